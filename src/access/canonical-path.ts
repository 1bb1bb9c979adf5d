// The one canonical path access rules match, made from the path of the original request
// exactly as the client sent it; a path whose meaning depends on who decodes it is refused.
//
// Why refuse instead of normalising: the proxy, gatehouse and the upstream each decode the
// path, and they disagree. nginx decodes %2F into "/" and resolves "/a/%2e%2e/b" before a
// `proxy_pass` with a URI part; Tomcat and Jetty read "..;" as ".."; Windows servers take "\"
// for "/" and drop trailing dots and spaces; Go keeps a raw "#" in the path. Whatever single
// reading gatehouse picked, some upstream reads such a path differently, so "/public/..%2fadmin"
// could match a `^/public/` bypass rule while the upstream serves /admin. Real browsers never
// send these forms, so a 400 costs nobody anything.
//
// What is normalised (the readings every server shares): percent-encoded unreserved
// characters are decoded ("/%61dmin" is "/admin", RFC 3986 §6.2.2.2), other percent-encoding
// is kept with upper-case hex (raw non-ASCII bytes and characters not allowed in a path are
// encoded the same way), plain "." and ".." segments are resolved (RFC 3986 §5.2.4; ".." at
// the root stays at the root) and runs of "/" are collapsed into one, as nginx's
// merge_slashes does. The path that results contains ASCII only.

export type CanonicalPath = { ok: true; path: string } | { ok: false; message: string };

const refuse = (why: string): CanonicalPath => ({ ok: false, message: `The original path ${why}.` });

/** Unreserved characters (RFC 3986 §2.3): the same whether percent-encoded or not. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** Characters a path segment may hold as they are: unreserved, sub-delims, ":" and "@". */
const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;
/** A path that is canonical already: no "%", no empty or dot-led segment, only pchars. */
const ALREADY_CANONICAL = /^(?:\/[A-Za-z0-9\-_~!$&'()*+,;=:@][A-Za-z0-9\-._~!$&'()*+,;=:@]*)*\/?$/;
/**
 * Segments some servers take for "." or "..": dots with ";" parameters (Tomcat, Jetty:
 * "..;jsessionid=x"), or only dots and spaces (Windows drops trailing dots and spaces).
 */
const DOT_LIKE = /^(?:\.\.?;|[. ]*\.[. ]*$)/;
const HEX = '0123456789ABCDEF';
const utf8 = new TextDecoder('utf-8', { fatal: true });

const encodeByte = (byte: number): string => `%${HEX[byte >> 4]}${HEX[byte & 15]}`;

interface Segment {
  /** The segment in canonical form. */
  text: string;
  /** Every percent-escape decoded, for the dot-segment checks. */
  decoded: string;
}

/**
 * One segment (between two "/"): its canonical form, or why it is refused. `raw` holds one
 * character per byte, as Node hands over header values (Latin-1), so raw UTF-8 and its
 * percent-encoded form become the same bytes.
 */
function segment(raw: string): Segment | string {
  let text = '';
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i] as string;
    let byte = raw.charCodeAt(i);
    let escaped = false;
    if (char === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return 'has invalid percent-encoding (a "%" not followed by two hex digits)';
      byte = parseInt(hex, 16);
      escaped = true;
      i += 2;
    }
    if (byte > 0xff) return 'is not valid UTF-8 once percent-decoded';
    if (byte < 0x20 || byte === 0x7f) return 'contains NUL or another control character';
    if (escaped && byte === 0x2f) return 'contains an encoded "/" (%2F), which some servers decode into a separator';
    if (escaped && byte === 0x5c) return 'contains an encoded "\\" (%5C), which some servers decode into a separator';
    if (!escaped && char === '\\') return 'contains a backslash, which some servers read as "/"';
    if (!escaped && char === '#') return 'contains "#", which some servers read as the end of the path';
    bytes.push(byte);
    const ascii = String.fromCharCode(byte);
    if (byte < 0x80 && (UNRESERVED.test(ascii) || (!escaped && PCHAR.test(ascii)))) text += ascii;
    else text += encodeByte(byte);
  }
  let decoded: string;
  try {
    // Rejects truncated and overlong sequences ("%c0%ae" is not "."), surrogates and > U+10FFFF.
    decoded = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return 'is not valid UTF-8 once percent-decoded';
  }
  return { text, decoded };
}

/** `raw`: the path of the original request-target as sent, starting with "/", without the query. */
export function canonicalPath(raw: string): CanonicalPath {
  if (ALREADY_CANONICAL.test(raw)) return { ok: true, path: raw };
  const parts = raw.split('/');
  // Segments so far, empty ones ("//") included: a ".." must know whether it removes one.
  const out: string[] = [];
  let trailingSlash = false;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string;
    const last = i === parts.length - 1;
    trailingSlash = false;
    if (part === '') {
      if (last) trailingSlash = true;
      else out.push('');
      continue;
    }
    const seg = segment(part);
    if (typeof seg === 'string') return refuse(seg);
    if (part === '.' || part === '..') {
      // nginx merges "//" before resolving ("/a//../b" is /b), the URL standard does not
      // ("/a//../b" is /a/b): which one the upstream follows is unknown.
      if (part === '..' && out.pop() === '') return refuse('has "//" before a ".." segment, which servers resolve differently');
      trailingSlash = last;
      continue;
    }
    if (seg.decoded === '.' || seg.decoded === '..') return refuse('has an encoded dot segment (%2E), which some servers resolve and others do not');
    if (DOT_LIKE.test(seg.decoded)) return refuse('has a dot segment with ";", trailing dots or spaces ("..;"), which some servers resolve as ".."');
    out.push(seg.text);
  }
  const segments = out.filter((s) => s !== '');
  return { ok: true, path: `/${segments.join('/')}${trailingSlash && segments.length > 0 ? '/' : ''}` };
}
