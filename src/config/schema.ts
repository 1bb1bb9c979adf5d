// The typed configuration schema with every default, checked once at start-up.

import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { formatDuration, parseDuration } from '../lib/duration.js';

const DAY = 86_400_000;

const duration = (example: string, bounds: { min?: number; max: number }) =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `not a duration (got ${JSON.stringify(value)}); write it like "${example}" (units ms, s, m, h, d, w)` });
      return z.NEVER;
    }
    const { min = 0, max } = bounds;
    if (ms < min || ms > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${formatDuration(min)} and ${formatDuration(max)} (got ${JSON.stringify(value)})` });
      return z.NEVER;
    }
    return ms;
  });

/** A trusted-proxy entry: Express's names (loopback, linklocal, uniquelocal), an IP, or a CIDR. */
const proxyEntry = z.string().refine(
  (v) => ['loopback', 'linklocal', 'uniquelocal'].includes(v) || isIP(v) !== 0 || isCidr(v),
  { message: 'not an IP address, CIDR (e.g. "10.0.0.0/8") or one of loopback, linklocal, uniquelocal' },
);

function isIpOrCidr(value: string): boolean {
  return isIP(value) !== 0 || isCidr(value);
}

function isCidr(value: string): boolean {
  const [addr, bits, ...rest] = value.split('/');
  if (rest.length || addr === undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(addr);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}

const hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, {
    message: 'must be a lower-case DNS name such as "home.example" (no scheme, port or leading dot)',
  });

export const sessionSection = z
  .strictObject({
    /** Base cookie name; `__Host-` (or `__Secure-` with cookie_domain) is prepended over HTTPS. */
    name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, { message: 'use 1-32 letters, digits, "_" or "-"' }).default('gatehouse'),
    /** Idle timeout: a session unused this long is dead (NIST AAL2: at most 1h). */
    inactivity: duration('1h', { min: 60_000, max: 365 * DAY }).default(3_600_000),
    /** Absolute lifetime of a session from sign-in (NIST AAL2: at most 24h). */
    expiration: duration('24h', { min: 60_000, max: 365 * DAY }).default(86_400_000),
    /** Lifetime of a "keep me signed in" session; 0 hides the option. */
    remember_me: duration('30d', { max: 400 * DAY }).default(30 * 86_400_000),
    cookie_domain: hostname.optional(),
    /** A busy session is written at most once per interval. */
    touch_interval: duration('60s', { min: 1000, max: DAY }).default(60_000),
    cache_size: z.number().int().min(0).max(1_000_000).default(10_000),
    /** Soft-deleted sessions are kept this long (audit, "why was I signed out"). */
    retention: duration('30d', { min: 60_000, max: 3650 * DAY }).default(30 * 86_400_000),
    sweep_interval: duration('5m', { min: 1000, max: DAY }).default(300_000),
    /**
     * Theft detection: a session used from another client address than the one it was
     * bound to at sign-in is ended. subnet (default) allows the same /24 (IPv4) or /64
     * (IPv6), because privacy addresses and DHCP renewals are normal at home.
     */
    ip_binding: z.enum(['strict', 'subnet', 'off']).default('subnet'),
    /** Networks inside which a session may roam freely (e.g. the LAN, both v4 and v6). */
    ip_binding_exempt_networks: z.array(z.string().refine(isIpOrCidr, { message: 'not an IP address or CIDR' })).default([]),
  })
  .prefault({});

export type SessionSection = z.output<typeof sessionSection>;

/**
 * Checks that relate several session settings. Kept out of the schema so they run (and
 * are reported) even when some other part of the config is invalid.
 */
export function sessionProblems(s: SessionSection): Array<[key: string, message: string]> {
  const problems: Array<[string, string]> = [];
  if (s.expiration < s.inactivity) problems.push(['expiration', 'must not be shorter than session.inactivity']);
  if (s.touch_interval * 2 > s.inactivity) {
    problems.push(['touch_interval', 'must be at most half of session.inactivity, or busy sessions could expire']);
  }
  if (s.remember_me !== 0 && s.remember_me < s.expiration) problems.push(['remember_me', 'must be 0 (off) or at least session.expiration']);
  return problems;
}

/** Checks that relate several throttle settings (run even when other sections are invalid). */
export function throttleProblems(t: Config['throttle']): Array<[key: string, message: string]> {
  const problems: Array<[string, string]> = [];
  if (t.ban_max < t.ban) problems.push(['ban_max', 'must not be shorter than throttle.ban (bans double from ban up to ban_max)']);
  return problems;
}

const policy = z.enum(['bypass', 'one_factor', 'two_factor', 'deny']);
const oneOrMany = <T extends z.ZodType>(item: T, what: string) =>
  z.union([item, z.array(item).min(1)], { error: `must be ${what} or a non-empty list of them` }).transform((v) => (Array.isArray(v) ? v : [v]));

/** A rule in Authelia's vocabulary; compiled and cross-checked by src/access/rules.ts. */
const accessRule = z.strictObject({
  domain: oneOrMany(z.string().min(1).max(253), 'a host name ("app.home.example" or "*.home.example")'),
  resources: z.array(z.string().min(1).max(1000)).optional(),
  methods: z.array(z.string().regex(/^[A-Za-z]{1,16}$/, { message: 'must be an HTTP method such as GET' })).optional(),
  networks: z.array(z.string().min(1).max(64)).optional(),
  /** "user:NAME" or "group:NAME"; the outer list is OR, an inner list is AND. */
  subject: oneOrMany(z.union([z.string(), z.array(z.string()).min(1)]), '"user:NAME" or "group:NAME"').optional(),
  policy,
});

export const accessControlSection = z
  .strictObject({
    default_policy: policy.default('deny'),
    /** Named network lists usable in rules: { lan: ["192.168.0.0/16", "fd00::/8"] }. */
    networks: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, { error: 'network names are 1-32 characters a-z, 0-9, "_" or "-"' }),
        z.array(z.string().min(1).max(64)).min(1),
      )
      .default({}),
    rules: z.array(accessRule).default([]),
  })
  .prefault({});

export type AccessControlSection = z.output<typeof accessControlSection>;

/** Text shown on a page: no control characters or bidi overrides (they could disguise what is shown). */
const UNSAFE_TEXT = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/**
 * A service on the portal home (portal.services). The URL's scheme, host and path are
 * checked further in load.ts (https, or http on localhost; something the access rules can
 * judge). The icon is text: the page's CSP loads no images from elsewhere.
 */
export const portalService = z.strictObject({
  name: z
    .string()
    .max(64, { message: 'must be at most 64 characters' })
    .refine((v) => v.trim().length > 0, { message: 'give the service a name (1-64 characters), e.g. "Photos"' })
    .refine((v) => !UNSAFE_TEXT.test(v), { message: 'must not contain control characters' }),
  url: z.url({ protocol: /^https?$/, error: 'must be an absolute https URL such as "https://photos.home.example/"' }).max(2048),
  description: z
    .string()
    .max(200, { message: 'must be at most 200 characters' })
    .refine((v) => !UNSAFE_TEXT.test(v), { message: 'must not contain control characters' })
    .optional(),
  icon: z
    .string()
    .refine((v) => v.length <= 32 && !/\s/u.test(v) && !UNSAFE_TEXT.test(v) && [...graphemes.segment(v)].length >= 1 && [...graphemes.segment(v)].length <= 4, {
      message: 'must be an emoji or up to 4 characters of text, e.g. "📷" or "NAS" (no image URLs: the portal loads nothing from elsewhere)',
    })
    .optional(),
});

export const configSchema = z
  .strictObject({
    /**
     * The portal's public URL (https), where the reverse proxies send people to sign in:
     * the forward-auth endpoints redirect to `<portal_url>/login?rd=<original URL>`.
     */
    portal_url: z
      .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL such as "https://auth.home.example"' })
      .optional(),
    access_control: accessControlSection,
    /** The portal home page: the household's services, each listed for whom the access rules let in. */
    portal: z
      .strictObject({
        services: z.array(portalService).max(200, { message: 'list at most 200 services' }).default([]),
      })
      .prefault({}),
    data_dir: z.string().min(1).default('./data'),
    server: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(8480),
        /** Proxies whose X-Forwarded-* headers are believed, matched against the TCP peer. */
        trusted_proxies: z.array(proxyEntry).default(['loopback']),
        /**
         * Sign-in over plain HTTP from another machine sends the password and cookie in the
         * clear; it is refused unless this is set (loopback is always allowed, for setup).
         */
        allow_insecure_http: z.boolean().default(false),
        shutdown_timeout: duration('10s', { min: 1000, max: 600_000 }).default(10_000),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
    session: sessionSection,
    password: z
      .strictObject({
        argon2: z
          .strictObject({
            memory_kib: z.number().int().min(19_456, { message: 'must be at least 19456 (19 MiB, OWASP minimum)' }).max(4_194_304).default(19_456),
            iterations: z.number().int().min(2, { message: 'must be at least 2 (OWASP minimum)' }).max(100).default(2),
            parallelism: z.number().int().min(1).max(16).default(1),
          })
          .prefault({}),
        /**
         * Forces a password change at the next sign-in once a password is this old. Off by
         * default: NIST SP 800-63B-4 advises against periodic rotation.
         */
        max_age: duration('365d', { min: DAY, max: 3650 * DAY }).nullable().default(null),
      })
      .prefault({}),
    setup: z
      .strictObject({
        token_lifetime: duration('1h', { min: 60_000, max: 7 * DAY }).default(3_600_000),
      })
      .prefault({}),
    /** The login regulator (src/throttle): persisted counters, checked before any hashing. */
    throttle: z
      .strictObject({
        /** A counter forgets its failures once this long passes without a new one. */
        window: duration('15m', { min: 60_000, max: DAY }).default(15 * 60_000),
        /** Failed sign-ins for one username (from any IP) before it is locked for unknown IPs. */
        max_failures_per_user: z.number().int().min(1).max(99).default(5),
        /** Failed sign-ins from one IP (any usernames) before the IP is banned. */
        max_failures_per_ip: z.number().int().min(1).max(1000).default(20),
        /** The separate allowance of an IP that has signed this user in before. */
        max_failures_known_ip: z.number().int().min(1).max(99).default(5),
        /** Distinct usernames one IP may fail against before it is banned (password spraying). */
        max_usernames_per_ip: z.number().int().min(2).max(100).default(5),
        /** Failures per counter before each further attempt waits 1s, 2s, 4s, … */
        backoff_after: z.number().int().min(1).max(99).default(3),
        /** First ban or lock; each repeat doubles it, up to ban_max. */
        ban: duration('15m', { min: 1000, max: 30 * DAY }).default(15 * 60_000),
        ban_max: duration('24h', { min: 1000, max: 365 * DAY }).default(DAY),
        /** argon2 is memory-hard: at most this many hashes at once, and this many waiting. */
        // Default: one less than the CPU count, at most 2, so hashing always leaves a core
        // for the event loop (the forward-auth checks).
        max_concurrent_hashes: z.number().int().min(1).max(64).default(Math.max(1, Math.min(2, availableParallelism() - 1))),
        max_queued_hashes: z.number().int().min(0).max(10_000).default(32),
      })
      .prefault({}),
    /** The global request rate limit (express-rate-limit, persisted in SQLite), per client IP. */
    rate_limit: z
      .strictObject({
        window: duration('1m', { min: 1000, max: DAY }).default(60_000),
        /** Requests per window to pages and APIs. */
        max: z.number().int().min(1).max(1_000_000).default(300),
        /** Requests per window to /auth/verify and /auth/forward (proxies ask on every request). */
        forward_auth_max: z.number().int().min(1).max(10_000_000).default(20_000),
      })
      .prefault({}),
    /**
     * Who must sign in with a second factor (issue 7). A user who must and has none is sent
     * to /account/two-factor right after the password and can use nothing else (but sign
     * out) until enrolled; one who has a factor always gets the second step at sign-in.
     */
    two_factor: z
      .strictObject({
        /** Members of any of these groups must have a second factor (e.g. the administrators). */
        required_for_groups: z
          .array(z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, { message: 'must be a group name (1-32 characters a-z, 0-9, ".", "_", "-")' }))
          .default(['admins']),
        /**
         * The home networks (IPs or CIDRs, e.g. ["192.168.0.0/16", "fd00::/8"]): signing in or
         * using a session from any client IP OUTSIDE all of them (the internet) requires a
         * second factor, for every user; inside them a password is enough (unless a group
         * rule above applies). Empty (the default): no requirement by network. The client IP
         * is the one seen through server.trusted_proxies (X-Forwarded-For).
         */
        required_outside_networks: z.array(z.string().refine(isIpOrCidr, { message: 'not an IP address or CIDR (e.g. "192.168.0.0/16")' })).default([]),
        /**
         * "Remember this device": how long a browser may skip the second step for a user after
         * a second factor there (a separate HttpOnly cookie; listed and revocable on /account;
         * a password change forgets them all). 0 turns the checkbox off.
         */
        remember_device: duration('30d', { max: 400 * DAY }).default(30 * 86_400_000),
        /**
         * "Sign in with a passkey" on the login page, without a username or password: a
         * passkey with user verification (its PIN or biometric) is two factors, so the
         * session is as strong as password + second factor. Off by default.
         */
        passkey_sign_in: z.boolean().default(false),
      })
      .prefault({}),
    /** The audit log (src/audit): how long entries are kept, how refusals are coalesced. */
    audit: z
      .strictObject({
        /** Entries older than this are deleted (in batches, every session.sweep_interval). */
        retention: duration('400d', { min: DAY, max: 3650 * DAY }).default(400 * DAY),
        /**
         * Refusals anyone can cause without credentials (failed and throttled sign-ins, bad
         * setup links) repeated from one address within this window are one entry with a
         * count. 0 writes every one.
         */
        coalesce_window: duration('1m', { max: 3_600_000 }).default(60_000),
      })
      .prefault({}),
    /** GET /metrics (Prometheus text format). Off by default; when on, only these client networks get an answer. */
    metrics: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** Client IPs (after server.trusted_proxies) allowed to scrape; others get 404. */
        networks: z.array(proxyEntry).min(1, { message: 'list at least one network, e.g. "127.0.0.0/8"; to turn metrics off set metrics.enabled: false' }).default(['127.0.0.0/8', '::1/128']),
      })
      .prefault({}),
  });

export type Config = z.output<typeof configSchema>;
