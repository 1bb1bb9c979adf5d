// The client's IP as gatehouse sees it: Express resolves X-Forwarded-For only through the
// configured trusted proxies (walking from the right), so a client cannot choose its IP.

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Request } from 'express';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';

/**
 * One spelling per client address, so that bans, bindings and rules cannot be escaped by
 * writing the same address another way: an IPv4 address inside IPv6, mapped
 * (`::ffff:192.0.2.77`, `::ffff:c000:24d`, `0:0:0:0:0:ffff:c000:024d`) or compatible
 * (`::192.0.2.77`, deprecated), becomes plain IPv4 (`192.0.2.77`); other IPv6 is lower case.
 */
export function normalizeIp(ip: string): string {
  const lower = ip.toLowerCase();
  // Fast path (every forward-auth request): IPv4, or IPv6 whose first 16 bits are not zero.
  if (!lower.includes(':') || (lower[0] !== ':' && lower[0] !== '0')) return lower;
  if (!ipaddr.IPv6.isValid(lower)) return lower;
  const v6 = ipaddr.IPv6.parse(lower);
  const p = v6.parts;
  if (v6.zoneId !== undefined || p[0] || p[1] || p[2] || p[3] || p[4]) return lower;
  const high = p[6] ?? 0;
  const low = p[7] ?? 0;
  // Compatible: ::a.b.c.d, but not :: (unspecified) or ::1 (loopback), which are IPv6's own.
  const embedsV4 = p[5] === 0xffff || (p[5] === 0 && (high !== 0 || low > 1));
  return embedsV4 ? `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}` : lower;
}

/**
 * The key a client address is counted under: IPv4 as is, IPv6 by its /64 (one home, one
 * privacy-address range; an attacker does not get 2^64 fresh addresses).
 */
export function ipKey(ip: string): string {
  const clean = normalizeIp(ip.trim());
  if (clean === '') return 'unknown';
  if (isIP(clean) !== 6) return clean;
  try {
    return `${ipaddr.IPv6.networkAddressFromCIDR(`${clean}/64`).toString()}/64`;
  } catch {
    return clean;
  }
}

export function clientIp(req: Request): string {
  return normalizeIp(req.ip ?? req.socket.remoteAddress ?? '');
}

export function isLoopback(ip: string): boolean {
  const clean = normalizeIp(ip);
  return clean === '::1' || (isIP(clean) === 4 && clean.startsWith('127.'));
}

/** Host names that always mean this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || isLoopback(h);
}

/**
 * Client IP resolution for raw Node requests (the forward-auth hot path, which skips
 * Express): the same proxy-addr rules Express applies for `trust proxy`.
 */
export interface IpResolver {
  /** The client IP: X-Forwarded-For walked from the right through trusted proxies only. */
  clientIp(req: IncomingMessage): string;
  /** Whether the TCP peer itself is a trusted proxy (so its X-Forwarded-* headers count). */
  peerIsTrusted(req: IncomingMessage): boolean;
}

export function createIpResolver(trustedProxies: string[]): IpResolver {
  const trust = proxyaddr.compile(trustedProxies);
  return {
    clientIp: (req) => normalizeIp(proxyaddr(req, trust)),
    peerIsTrusted: (req) => trust(req.socket.remoteAddress ?? '', 0),
  };
}

/** Headers by which a proxy says it stands between us and the client. */
export const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'via'];

/**
 * A proxy forwarded this request (some forwarding header) without saying for whom (no
 * X-Forwarded-For): the peer address is the proxy's, and the client could be anyone.
 */
export function clientHiddenByProxy(req: { headers: Record<string, string | string[] | undefined> }): boolean {
  return req.headers['x-forwarded-for'] === undefined && FORWARDING_HEADERS.some((h) => req.headers[h] !== undefined);
}
