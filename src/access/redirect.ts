// Safe post-login redirects: `rd` is honoured only for absolute https/wss URLs whose parsed
// host is the cookie domain or one of its subdomains. Hosts are compared after URL parsing,
// never as string prefixes.

const MAX_RD_LENGTH = 2048;

export function safeRedirectTarget(rd: unknown, cookieDomain: string | undefined): string | null {
  if (typeof rd !== 'string' || rd.length === 0 || rd.length > MAX_RD_LENGTH || !cookieDomain) return null;
  // The URL parser silently drops tabs/newlines and turns "\" into "/": refuse them first.
  if (/[\s\\\p{C}]/u.test(rd)) return null;
  // Percent-encoded control characters (%0d%0a, %00…) too: whatever decodes the URL later
  // (the upstream app, a log line, a header it builds from the path) must not meet them.
  if (/%(?:[01][0-9a-f]|7f)/i.test(rd)) return null;
  let url: URL;
  try {
    url = new URL(rd);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'wss:') return null;
  if (url.username || url.password) return null;
  const host = url.hostname; // lower-case, IDN already in punycode
  const domain = cookieDomain.toLowerCase();
  if (host !== domain && !host.endsWith(`.${domain}`)) return null;
  return url.href;
}

/**
 * A return path inside gatehouse itself (after re-authentication or a forced password
 * change): a plain absolute path, never a scheme-relative `//host` or `/\host`.
 */
export function safeLocalPath(path: unknown): string | null {
  if (typeof path !== 'string' || path.length === 0 || path.length > MAX_RD_LENGTH) return null;
  if (!path.startsWith('/') || path.startsWith('//') || /[\s\\\p{C}]/u.test(path)) return null;
  if (/%(?:[01][0-9a-f]|7f|2f|5c)/i.test(path)) return null;
  try {
    // Parsed against a dummy origin: anything that leaves it is not a local path.
    const url = new URL(path, 'http://gatehouse.invalid');
    if (url.origin !== 'http://gatehouse.invalid') return null;
    // Judge what is returned, not what came in: dot segments normalise "/.//evil" to "//evil".
    const result = `${url.pathname}${url.search}`;
    return result.startsWith('//') || result.startsWith('/\\') ? null : result;
  } catch {
    return null;
  }
}
