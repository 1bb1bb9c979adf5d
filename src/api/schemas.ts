// The JSON API's shapes as zod schemas: request bodies, queries and path parameters (the
// handlers validate with them) and responses (the serializers below are typed by them).
// The OpenAPI document (openapi.ts) is generated from these same schemas, so it cannot drift.

import { isIP } from 'node:net';
import { z } from 'zod';
import type { AuditEntry } from '../audit/query.js';
import type { MySession } from '../account/my-sessions.js';
import { deviceLabel } from '../sessions/device.js';
import type { SessionInfo } from '../sessions/types.js';
import type { Ban } from '../throttle/regulator.js';
import { TOKEN_SCOPES, type TokenInfo } from '../tokens/api-tokens.js';
import type { User } from '../users/repository.js';
import { INVISIBLE } from '../users/username.js';

// ---- building blocks -----------------------------------------------------------------

/** Text a person typed: bounded, and no control or invisible characters (NUL, CR, LF, ZWJ…). */
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !INVISIBLE.test(s), { message: 'must not contain control or invisible characters' });

/** Passwords are checked by the password policy; here only bounded and free of NUL. */
const password = z
  .string()
  .min(1)
  .max(1024)
  .refine((s) => !s.includes('\0'), { message: 'must not contain a NUL character' });

/** A whole number in a query string or path ("20"), as a number. */
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,16}$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .meta({ description: `A whole number from ${min} to ${max}.` });

const isoTime = z.iso.datetime();
const time = isoTime.nullable();
const username = text(256).min(1);
const scope = z.enum(TOKEN_SCOPES);

// ---- request bodies ------------------------------------------------------------------

export const PasswordChangeBody = z.strictObject({ current_password: password, new_password: password });
export const PasswordBody = z.strictObject({ password });
export const TokenCreateBody = z.strictObject({
  name: text(64).min(1),
  scope,
  expires_in_days: z.number().int().min(1).max(366),
});
const groups = z.array(text(32)).max(32);
export const UserCreateBody = z.strictObject({
  username,
  password,
  display_name: text(128).optional(),
  email: text(320).nullable().optional(),
  groups: groups.optional(),
});
export const UserPatchBody = z
  .strictObject({
    display_name: text(128).optional(),
    email: text(320).nullable().optional(),
    groups: groups.optional(),
  })
  .refine((b) => b.display_name !== undefined || b.email !== undefined || b.groups !== undefined, {
    message: 'name at least one of display_name, email, groups',
  });

// ---- queries and path parameters -----------------------------------------------------

export const UsersQuery = z.strictObject({
  limit: wholeNumber(1, 200).optional(),
  offset: wholeNumber(0, 1_000_000).optional(),
});
export const SessionsQuery = z.strictObject({
  user: username.optional(),
  state: z.enum(['live', 'ended']).optional().meta({ description: 'live (default) or ended sessions.' }),
  limit: wholeNumber(1, 1000).optional(),
});
export const AuditQuery = z.strictObject({
  event: text(64).min(1).optional(),
  user: username.optional(),
  ip: text(64)
    .refine((s) => isIP(s) !== 0, { message: 'must be an IP address' })
    .optional(),
  from: z.iso.datetime({ offset: true }).optional().meta({ description: 'Entries at or after this time (ISO 8601).' }),
  to: z.iso.datetime({ offset: true }).optional().meta({ description: 'Entries before this time (ISO 8601).' }),
  limit: wholeNumber(1, 500).optional(),
  before: wholeNumber(1, Number.MAX_SAFE_INTEGER).optional().meta({ description: 'The `next` of the previous page.' }),
});
export const UsernameParams = z.strictObject({ username });
export const MySessionParams = z.strictObject({
  handle: z.string().regex(/^[0-9a-fA-F]{12}$/, { message: 'must be a 12-character session handle' }),
});
export const SessionParams = z.strictObject({
  handle: z.string().regex(/^[0-9a-fA-F]{6,64}$/, { message: 'must be a session handle (6 to 64 hexadecimal characters)' }),
});
export const TokenParams = z.strictObject({ id: wholeNumber(1, Number.MAX_SAFE_INTEGER) });
export const BanParams = z.strictObject({
  target: text(100).min(1).meta({ description: 'An IP address, an IPv6 /64 as listed (percent-encode the "/"), or a username.' }),
});

// ---- responses -----------------------------------------------------------------------

export const ErrorBody = z.strictObject({
  error: z.strictObject({ code: z.string(), message: z.string() }),
});

export const UserJson = z.strictObject({
  id: z.number().int(),
  username: z.string(),
  display_name: z.string(),
  email: z.string().nullable(),
  groups: z.array(z.string()),
  disabled: z.boolean(),
  must_change_password: z.boolean(),
  created_at: isoTime,
  password_changed_at: isoTime,
  last_login_at: time,
  deletion_requested_at: time,
});
export const UserPage = z.strictObject({
  users: z.array(UserJson),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  next_offset: z.number().int().nullable().meta({ description: 'The offset of the next page; null on the last page.' }),
});
/**
 * Every admin operation on one user answers this shape: the user as it is now under `user`,
 * and what the operation did beside it (the extensions below). Never the bare user.
 */
export const UserResult = z.strictObject({ user: UserJson });
export const DisabledUser = UserResult.extend({ sessions_revoked: z.number().int(), tokens_revoked: z.number().int() });
export const PasswordReset = UserResult.extend({ sessions_revoked: z.number().int() });
export const SecondFactorsReset = UserResult.extend({
  removed: z.strictObject({
    totp: z.boolean().meta({ description: 'Whether an authenticator app (set up or being set up) was removed.' }),
    passkeys: z.number().int(),
    recovery_codes: z.number().int().meta({ description: 'Unused recovery codes removed.' }),
  }),
  sessions_revoked: z.number().int(),
});

export const TokenJson = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  hint: z.string().meta({ description: 'The first characters of the token, to recognise it.' }),
  scope,
  state: z.enum(['live', 'expired', 'revoked']),
  created_at: isoTime,
  expires_at: isoTime,
  last_used_at: time,
  last_used_ip: z.string().nullable(),
  revoked_at: time,
});
export const TokenList = z.strictObject({ tokens: z.array(TokenJson) });
export const TokenCreated = TokenJson.extend({
  token: z.string().meta({ description: 'The secret bearer token. Shown here once and never again.' }),
});

export const MeJson = z.strictObject({
  user: UserJson,
  admin: z.boolean(),
  password_change_required: z.boolean(),
  authentication: z.strictObject({
    method: z.enum(['session', 'token']),
    recent: z.boolean().meta({ description: 'A cookie session that authenticated in the last 10 minutes (dangerous admin operations need this).' }),
    token: TokenJson.nullable(),
  }),
});

const sessionFields = {
  handle: z.string(),
  device: z.string(),
  user_agent: z.string().nullable(),
  bound_ip: z.string().nullable(),
  created_at: isoTime,
  last_seen_at: isoTime,
  expires_at: isoTime,
  ended_at: time,
  end_reason: z.string().nullable(),
};
export const MySessionJson = z.strictObject({ ...sessionFields, current: z.boolean() });
export const MySessions = z.strictObject({ sessions: z.array(MySessionJson), ended: z.array(MySessionJson) });
export const SessionJson = z.strictObject({ ...sessionFields, user_id: z.number().int().nullable(), username: z.string().nullable() });
export const SessionList = z.strictObject({ sessions: z.array(SessionJson) });

export const AuditEntryJson = z.strictObject({
  id: z.number().int(),
  at: isoTime,
  event: z.string(),
  user_id: z.number().int().nullable(),
  username: z.string().nullable(),
  ip: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  count: z.number().int().min(1).meta({ description: 'How many events the entry stands for: repeated refusals from one address within `audit.coalesce_window` are one entry.' }),
  last_at: isoTime.meta({ description: 'The last of them (equal to `at` for a single event).' }),
});
export const AuditPage = z.strictObject({
  entries: z.array(AuditEntryJson),
  next: z.number().int().nullable().meta({ description: 'Pass as `before` for the next (older) page; null on the last page.' }),
});

export const BanJson = z.strictObject({
  scope: z.enum(['ip', 'user', 'pair']),
  ip: z.string().nullable(),
  username: z.string().nullable(),
  until: isoTime,
  count: z.number().int(),
  cause: z.enum(['failures', 'spraying']),
});
export const BanList = z.strictObject({ bans: z.array(BanJson) });

export const CsrfJson = z.strictObject({ csrf_token: z.string() });
export const SessionsRevoked = z.strictObject({ sessions_revoked: z.number().int() });
/** After a password change the session continues under a new ID, with a new CSRF token. */
export const PasswordChanged = z.strictObject({ sessions_revoked: z.number().int(), tokens_revoked: z.number().int(), csrf_token: z.string() });
export const Reauthenticated = z.strictObject({ authenticated_at: isoTime, recent_until: isoTime, csrf_token: z.string() });
export const DeletionRequested = z.strictObject({ deletion_requested_at: isoTime });

export const PersonalData = z.strictObject({
  exported_at: isoTime,
  profile: UserJson,
  sessions: z.array(z.strictObject(sessionFields)),
  api_tokens: z.array(TokenJson.omit({ state: true })),
  audit_events: z.array(AuditEntryJson.omit({ user_id: true, username: true })),
});

// ---- serializers ---------------------------------------------------------------------

export const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function userJson(u: Readonly<User>): z.output<typeof UserJson> {
  return {
    id: u.id,
    username: u.username,
    display_name: u.displayName,
    email: u.email,
    groups: [...u.groups],
    disabled: u.disabled,
    must_change_password: u.mustChangePassword,
    created_at: iso(u.createdAt),
    password_changed_at: iso(u.passwordChangedAt),
    last_login_at: isoOrNull(u.lastLoginAt),
    deletion_requested_at: isoOrNull(u.deletionRequestedAt),
  };
}

export function tokenJson(t: TokenInfo, now: number): z.output<typeof TokenJson> {
  return {
    id: t.id,
    name: t.name,
    hint: t.hint,
    scope: t.scope,
    state: t.revokedAt !== null ? 'revoked' : t.expiresAt <= now ? 'expired' : 'live',
    created_at: iso(t.createdAt),
    expires_at: iso(t.expiresAt),
    last_used_at: isoOrNull(t.lastUsedAt),
    last_used_ip: t.lastUsedIp,
    revoked_at: isoOrNull(t.revokedAt),
  };
}

function sessionBase(s: SessionInfo & { device?: string }) {
  return {
    handle: s.handle,
    device: s.device ?? deviceLabel(s.userAgent),
    user_agent: s.userAgent,
    bound_ip: s.boundIp,
    created_at: iso(s.createdAt),
    last_seen_at: iso(s.lastSeenAt),
    expires_at: iso(s.expiresAt),
    ended_at: isoOrNull(s.deletedAt),
    end_reason: s.deleteReason,
  };
}

export function mySessionJson(s: MySession): z.output<typeof MySessionJson> {
  return { ...sessionBase(s), current: s.current };
}

export function sessionJson(s: SessionInfo): z.output<typeof SessionJson> {
  return { ...sessionBase(s), user_id: s.userId, username: s.username };
}

export function auditEntryJson(e: AuditEntry): z.output<typeof AuditEntryJson> {
  return { id: e.id, at: iso(e.at), event: e.event, user_id: e.userId, username: e.username, ip: e.ip, details: e.details, count: e.count, last_at: iso(e.lastAt) };
}

export function banJson(b: Ban): z.output<typeof BanJson> {
  return { scope: b.scope, ip: b.ip, username: b.username, until: iso(b.until), count: b.count, cause: b.cause };
}

