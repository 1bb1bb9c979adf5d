// The client's IP as gatehouse sees it: Express resolves X-Forwarded-For only through the
// configured trusted proxies (walking from the right), so a client cannot choose its IP.

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Request } from 'express';
import proxyaddr from 'proxy-addr';

/** IPv4-mapped IPv6 ("::ffff:10.0.0.1") is written as plain IPv4. */
export function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? (mapped[1] as string) : ip.toLowerCase();
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
