// What the reverse proxy asks about: the original method and URL, read from the headers
// each proxy sends. Only a trusted proxy's headers count; malformed ones are refused.

import type { IncomingMessage } from 'node:http';
import { canonicalPath } from './canonical-path.js';

export interface OriginalRequest {
  method: string;
  proto: 'http' | 'https';
  /** Lower-case host name, no port. */
  host: string;
  /**
   * What access rules match: the canonical path (see canonical-path.ts) and the query, with
   * percent-encoded unreserved characters decoded.
   */
  path: string;
  /** The whole original URL, for the `rd` parameter of the login redirect. */
  url: string;
}

export type OriginalResult = { ok: true; request: OriginalRequest } | { ok: false; message: string };

const METHOD = /^[A-Z]{1,16}$/;
const HOST = /^(?=.{1,253}(:|$))[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/i;
const MAX_URL = 8192;

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Proxies may send a comma-separated list when chained; the first entry is the client's. */
const first = (value: string | undefined): string | undefined => value?.split(',')[0]?.trim() || undefined;

/**
 * RFC 3986 §6.2.2.2: a percent-encoded unreserved character is that character, in the
 * query as in the path (canonical-path.ts). Reserved characters stay encoded.
 */
const decodeUnreserved = (text: string): string =>
  !text.includes('%')
    ? text
    : text.replace(/%[0-9A-Fa-f]{2}/g, (escape) => {
        const char = String.fromCharCode(parseInt(escape.slice(1), 16));
        return /[A-Za-z0-9\-._~]/.test(char) ? char : escape;
      });

/**
 * `uri` is the request-target as the client sent it (path and query), never a parsed URL's
 * pathname: the URL parser resolves "%2e%2e" and turns "\\" into "/", which would hide
 * exactly the forms that must be refused. `parsed` is the same URL already parsed by the
 * caller (X-Original-URL): not parsed twice.
 */
function build(method: string | undefined, proto: string | undefined, host: string | undefined, uri: string | undefined, parsed?: URL): OriginalResult {
  // No default: guessing GET would let a POST pass a rule limited to `methods: [GET]`.
  if (!method) return { ok: false, message: 'The original method header is missing.' };
  const m = method.toUpperCase();
  if (!METHOD.test(m)) return { ok: false, message: 'The original method header is not an HTTP method.' };
  if (proto !== 'http' && proto !== 'https') return { ok: false, message: 'The original protocol must be http or https.' };
  if (!host || !HOST.test(host)) return { ok: false, message: 'The original host header is missing or not a host name.' };
  if (uri && uri.length > MAX_URL) return { ok: false, message: 'The original URI header is too long.' };
  if (!uri || !uri.startsWith('/') || uri.startsWith('//') || /\s/.test(uri)) {
    return { ok: false, message: 'The original URI header is missing or not an absolute path.' };
  }
  // The path ends at the first "?": nothing in the query can change what the path is.
  const query = uri.indexOf('?');
  const path = canonicalPath(query === -1 ? uri : uri.slice(0, query));
  if (!path.ok) return path;
  let url: URL;
  try {
    url = parsed ?? new URL(`${proto}://${host}${uri}`);
  } catch {
    return { ok: false, message: 'The original URL could not be parsed.' };
  }
  return { ok: true, request: { method: m, proto, host: url.hostname, path: `${path.path}${decodeUnreserved(url.search)}`, url: url.href } };
}

/** The request-target of an absolute URL as written: everything after the authority. */
const TARGET = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#\\]*(.*)$/s;

/**
 * An absolute original URL (X-Original-URL, or the URL `gatehouse access check` is given) and
 * the original method: the request as rules see it, or why the endpoints refuse it.
 */
export function readOriginalUrl(original: string, method: string | undefined): OriginalResult {
  if (original.length > MAX_URL) return { ok: false, message: 'X-Original-URL is too long.' };
  // The URL parser would silently drop them: what it parsed would not be what was sent.
  if (/[\s\p{Cc}]/u.test(original)) return { ok: false, message: 'X-Original-URL contains whitespace or a control character.' };
  let url: URL;
  try {
    url = new URL(original);
  } catch {
    return { ok: false, message: 'X-Original-URL is not an absolute URL.' };
  }
  if (url.username || url.password) return { ok: false, message: 'X-Original-URL must not carry credentials.' };
  url.hash = ''; // never sent over HTTP; not part of the request or of `rd`
  const proto = url.protocol.slice(0, -1);
  const target = TARGET.exec(original)?.[1];
  // "https:host/x" parses (the URL standard repairs it) but is not what a proxy sends.
  if (target === undefined && (proto === 'http' || proto === 'https')) return { ok: false, message: 'X-Original-URL is not an absolute URL.' };
  // No path at all is "/". A fragment after the query is dropped, as the URL parser does.
  return build(method, proto, url.host, target === undefined || target.startsWith('/') ? target : `/${target}`, url);
}

/** nginx auth_request: X-Original-URL and X-Original-Method, else the X-Forwarded-* set. */
export function readForVerify(req: IncomingMessage): OriginalResult {
  const original = header(req, 'x-original-url');
  if (original !== undefined) return readOriginalUrl(original, header(req, 'x-original-method') ?? first(header(req, 'x-forwarded-method')));
  return readForForward(req);
}

/** Caddy forward_auth and Traefik forwardAuth: X-Forwarded-Method/Proto/Host/Uri. */
export function readForForward(req: IncomingMessage): OriginalResult {
  return build(
    first(header(req, 'x-forwarded-method')),
    first(header(req, 'x-forwarded-proto'))?.toLowerCase(),
    first(header(req, 'x-forwarded-host')),
    header(req, 'x-forwarded-uri'),
  );
}
