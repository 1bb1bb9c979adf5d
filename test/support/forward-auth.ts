// Helpers for forward-auth tests: the example config, and requests shaped like the
// subrequests nginx (auth_request → /auth/verify) and Caddy/Traefik (→ /auth/forward) send.

import { request } from 'node:http';
import type { Browser, Reply } from './browser.js';

export const PORTAL = 'https://auth.home.example';

/** The access_control example from issue 3, exactly as written there. */
export const EXAMPLE_ACCESS_CONTROL = {
  default_policy: 'deny',
  networks: { lan: ['192.168.0.0/16', 'fd00::/8'] },
  rules: [
    { domain: 'public.home.example', policy: 'bypass' },
    { domain: 'admin.home.example', subject: ['group:admins'], policy: 'one_factor' },
    { domain: '*.home.example', resources: ['^/api/'], networks: ['lan'], policy: 'one_factor' },
    { domain: '*.home.example', policy: 'one_factor' },
  ],
};


/** Over HTTPS via the (trusted, loopback) proxy: cookies are the `__Secure-` ones. */
export const HTTPS: Record<string, string> = { 'x-forwarded-proto': 'https' };

/** The example rules, plus a LAN-only bypass host and a two_factor host. */
export function forwardAuthConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    portal_url: PORTAL,
    session: { cookie_domain: 'home.example' },
    access_control: {
      default_policy: 'deny',
      networks: { lan: ['192.168.0.0/16', 'fd00::/8'] },
      rules: [
        { domain: 'public.home.example', policy: 'bypass' },
        { domain: 'admin.home.example', subject: ['group:admins'], policy: 'one_factor' },
        { domain: 'lan.home.example', networks: ['lan'], policy: 'bypass' },
        { domain: 'vault.home.example', policy: 'two_factor' },
        { domain: '*.home.example', resources: ['^/api/'], networks: ['lan'], policy: 'one_factor' },
        { domain: '*.home.example', policy: 'one_factor' },
      ],
    },
    ...extra,
  };
}

export interface CheckOptions {
  /** The original request's method (default GET). */
  method?: string;
  headers?: Record<string, string>;
  /** The HTTP method of the subrequest itself (default GET). */
  as?: string;
}

/** nginx auth_request: X-Original-URL and X-Original-Method. */
export function verify(b: Browser, url: string, options: CheckOptions = {}): Promise<Reply> {
  return b.request(options.as ?? 'GET', '/auth/verify', {
    headers: { 'x-original-url': url, 'x-original-method': options.method ?? 'GET', ...options.headers },
  });
}

/** Caddy forward_auth / Traefik forwardAuth: X-Forwarded-Method/Proto/Host/Uri. */
export function forward(b: Browser, url: string, options: CheckOptions = {}): Promise<Reply> {
  const u = new URL(url);
  return b.request(options.as ?? 'GET', '/auth/forward', {
    headers: {
      'x-forwarded-method': options.method ?? 'GET',
      'x-forwarded-proto': u.protocol.slice(0, -1),
      'x-forwarded-host': u.host,
      'x-forwarded-uri': `${u.pathname}${u.search}`,
      ...options.headers,
    },
  });
}

export interface RawReply {
  status: number;
  /** Header values as the bytes on the wire, decoded as UTF-8. */
  utf8(name: string): string | undefined;
}

/** A GET through node:http, to see header bytes exactly (fetch decodes them as Latin-1). */
export function rawGet(baseUrl: string, path: string, headers: Record<string, string>, localAddress?: string): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, baseUrl), { headers, ...(localAddress ? { localAddress } : {}) }, (res) => {
      res.resume();
      res.on('end', () => {
        const raw = res.rawHeaders;
        resolve({
          status: res.statusCode ?? 0,
          utf8(name) {
            for (let i = 0; i < raw.length; i += 2) {
              if (raw[i]?.toLowerCase() === name.toLowerCase()) return Buffer.from(raw[i + 1] ?? '', 'latin1').toString('utf8');
            }
            return undefined;
          },
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}
