// The one canonical path access rules match, made from the path of the original request
// exactly as the client sent it; a path whose meaning depends on who decodes it is refused.
//
// Why refuse instead of normalising: the proxy, gatehouse and the upstream each decode the
// path, and they disagree. nginx decodes %2F into "/" and resolves "/a/%2e%2e/b" before a
// `proxy_pass` with a URI part; Tomcat, Jetty, Spring and Undertow strip ";" parameters from
// every segment ("/admin;x/users" is /admin/users, "..;" is ".."); Windows servers take "\"
// for "/", drop trailing dots and spaces and read "admin::$INDEX_ALLOCATION" as the directory
// admin; Go keeps a raw "#" in the path; a second proxy may decode "%252e" into "%2e" and then
// "."; Java's equalsIgnoreCase and APFS fold "ſ" into "s", NFKC turns "．" into ".". Whatever single
// reading gatehouse picked, some upstream reads such a path differently, so "/public/..%2fadmin"
// could match a `^/public/` bypass rule while the upstream serves /admin. Browsers do not
// make these forms from links (they resolve dot segments and turn "\" into "/" themselves);
// an encoded "/" does occur in a few APIs (GitLab's project paths, RabbitMQ's "%2F" vhost),
// and refusing it there is the price of a path nobody can read two ways.
//
// What is normalised (the readings every server shares): percent-encoded unreserved
// characters are decoded ("/%61dmin" is "/admin", RFC 3986 §6.2.2.2), other percent-encoding
// is kept with upper-case hex (raw non-ASCII bytes and characters not allowed in a path are
// encoded the same way), plain "." and ".." segments are resolved (RFC 3986 §5.2.4; ".." at
// the root stays at the root) and runs of "/" are collapsed into one, as nginx's
// merge_slashes does. The path that results contains ASCII only.

export type CanonicalPath = { ok: true; path: string } | { ok: false; message: string };

const refuse = (why: string): CanonicalPath => ({ ok: false, message: `The original path ${why}.` });

/**
 * A segment that is canonical as it is: pchars but "%", ";" and "$" (so no stream suffix
 * ":$"), "." neither first nor last. Anything else takes the full reading below.
 */
const PLAIN = "[A-Za-z0-9\\-_~!&'()*+,=:@](?:[A-Za-z0-9\\-._~!&'()*+,=:@]*[A-Za-z0-9\\-_~!&'()*+,=:@])?";
/** A path that is canonical already (the hot path: one test, no work per segment). */
const ALREADY_CANONICAL = new RegExp(`^(?:/${PLAIN})*/?$`);
const PLAIN_SEGMENT = new RegExp(`^${PLAIN}$`);
/**
 * ASCII by class: 2 unreserved (RFC 3986 §2.3: the same whether percent-encoded or not, so
 * decoded), 1 the other characters a segment may hold as they are (sub-delims, ":", "@"),
 * 0 everything else (kept or put in percent-encoding).
 */
const CLASS = new Uint8Array(128);
for (const c of "!$&'()*+,;=:@") CLASS[c.charCodeAt(0)] = 1;
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') CLASS[c.charCodeAt(0)] = 2;
/**
 * Segments some servers take for "." or "..": dots with ";" parameters (Tomcat, Jetty:
 * "..;jsessionid=x"), or only dots and spaces (Windows drops trailing dots and spaces).
 */
const DOT_LIKE = /^(?:\.\.?;|[. ]*\.[. ]*$)/;
const HEX = '0123456789ABCDEF';
const utf8 = new TextDecoder('utf-8', { fatal: true });

interface Segment {
  /** The segment in canonical form. */
  text: string;
  /** Every percent-escape decoded, one character per byte: for the dot-segment checks. */
  decoded: string;
}

/**
 * One segment (between two "/"): its canonical form, or why it is refused. `raw` holds one
 * character per byte, as Node hands over header values (Latin-1), so raw UTF-8 and its
 * percent-encoded form become the same bytes.
 */
function segment(raw: string): Segment | string {
  let text = '';
  let decoded = '';
  let nonAscii = false;
  for (let i = 0; i < raw.length; i++) {
    let byte = raw.charCodeAt(i);
    let escaped = false;
    if (byte === 0x25 /* % */) {
      const high = hexValue(raw.charCodeAt(i + 1));
      const low = hexValue(raw.charCodeAt(i + 2));
      if (high < 0 || low < 0) return 'has invalid percent-encoding (a "%" not followed by two hex digits)';
      byte = high * 16 + low;
      escaped = true;
      i += 2;
    }
    if (byte > 0xff) return 'is not valid UTF-8 once percent-decoded';
    if (byte < 0x20 || byte === 0x7f) return 'contains NUL or another control character';
    if (escaped && byte === 0x2f) return 'contains an encoded "/" (%2F), which some servers decode into a separator';
    if (escaped && byte === 0x5c) return 'contains an encoded "\\" (%5C), which some servers decode into a separator';
    if (!escaped && byte === 0x5c) return 'contains a backslash, which some servers read as "/"';
    if (!escaped && byte === 0x23) return 'contains "#", which some servers read as the end of the path';
    const kind = byte < 0x80 ? (CLASS[byte] as number) : 0;
    if (byte >= 0x80) nonAscii = true;
    decoded += String.fromCharCode(byte);
    text += kind === 2 || (kind === 1 && !escaped) ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  if (nonAscii) {
    let chars: string;
    try {
      // Rejects truncated and overlong sequences ("%c0%ae" is not "."), surrogates, > U+10FFFF.
      chars = utf8.decode(Buffer.from(decoded, 'latin1'));
    } catch {
      return 'is not valid UTF-8 once percent-decoded';
    }
    if (foldsToAscii(chars)) return 'has a non-ASCII character that case folding or NFKC turns into ASCII ("ſ" into "s", "．" into "."), as some servers do';
  }
  return { text, decoded };
}

/**
 * Whether a non-ASCII character of `chars` becomes (or holds) ASCII under case mapping or
 * NFKC, as the case-insensitive upstreams the rules' case-insensitive match is for read it:
 * "ſ" (S upper-case), the Kelvin sign (k lower-case), "ß" ("SS"), "ı" ("I"), "ﬁ" ("fi"),
 * fullwidth "．" (".") and the like. Accents, CJK and emoji stay non-ASCII and pass.
 */
function foldsToAscii(chars: string): boolean {
  for (const char of chars) {
    if (char.charCodeAt(0) < 0x80) continue;
    for (const form of [char, char.normalize('NFKC')]) {
      const lower = form.toLowerCase();
      // Upper-casing the lower case too: "ẞ" is "ß" lower-case, and that is "SS".
      if (hasAscii(form) || hasAscii(lower) || hasAscii(form.toUpperCase()) || hasAscii(lower.toUpperCase())) return true;
    }
  }
  return false;
}

function hasAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x80) return true;
  return false;
}

/**
 * Why a segment that is neither "." nor ".." as sent (given by its decoded bytes) may be
 * served as another path by some upstream, or null.
 */
function otherReading(decoded: string): string | null {
  if (decoded === '.' || decoded === '..') return 'has an encoded dot segment (%2E), which some servers resolve and others do not';
  if (DOT_LIKE.test(decoded)) return 'has a dot segment with ";", trailing dots or spaces ("..;"), which some servers resolve as ".."';
  if (decoded.includes(';')) {
    return 'contains ";", which Tomcat, Jetty, Spring and Undertow strip as a path parameter ("/admin;x/users" is their /admin/users)';
  }
  const end = decoded.charCodeAt(decoded.length - 1);
  if (end === 0x2e || end === 0x20) return 'has a segment ending in "." or a space, which Windows drops ("/admin./users" is its /admin/users)';
  if (decoded.includes(':$')) return 'has an NTFS stream suffix (":$"), which Windows drops ("/admin::$INDEX_ALLOCATION" is its /admin)';
  for (let i = decoded.indexOf('%'); i !== -1; i = decoded.indexOf('%', i + 1)) {
    if (hexValue(decoded.charCodeAt(i + 1)) >= 0 && hexValue(decoded.charCodeAt(i + 2)) >= 0) {
      return 'has double percent-encoding ("%25" before two hex digits), which a server that decodes twice reads as another character ("%252e" as ".")';
    }
  }
  return null;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
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
    if (PLAIN_SEGMENT.test(part)) {
      out.push(part);
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
    const other = otherReading(seg.decoded);
    if (other) return refuse(other);
    out.push(seg.text);
  }
  const segments = out.filter((s) => s !== '');
  return { ok: true, path: `/${segments.join('/')}${trailingSlash && segments.length > 0 ? '/' : ''}` };
}
