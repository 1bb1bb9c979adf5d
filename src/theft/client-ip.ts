// The client's IP as gatehouse sees it: Express resolves X-Forwarded-For only through the
// configured trusted proxies (walking from the right), so a client cannot choose its IP.

import { isIP } from 'node:net';
import type { Request } from 'express';

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
