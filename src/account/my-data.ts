// "My data": everything gatehouse stores about one user, as one JSON document (profile,
// sessions, API tokens, audit events about them). Never a password hash or a secret.

import type { AppContext } from '../context.js';
import { notFound } from '../lib/errors.js';
import { deviceLabel } from '../sessions/device.js';

export function exportPersonalData(ctx: AppContext, userId: number) {
  const user = ctx.users.findById(userId);
  if (!user) throw notFound('user-not-found', 'There is no such user.');
  return {
    exported_at: new Date(ctx.clock.now()).toISOString(),
    profile: {
      id: user.id,
      username: user.username,
      display_name: user.displayName,
      email: user.email,
      groups: user.groups,
      disabled: user.disabled,
      must_change_password: user.mustChangePassword,
      created_at: iso(user.createdAt),
      password_changed_at: iso(user.passwordChangedAt),
      last_login_at: iso(user.lastLoginAt),
      deletion_requested_at: iso(user.deletionRequestedAt),
    },
    sessions: ctx.sessions.list({ userId, includeEnded: true, limit: 10_000 }).map((s) => ({
      handle: s.handle,
      device: deviceLabel(s.userAgent),
      user_agent: s.userAgent,
      bound_ip: s.boundIp,
      created_at: iso(s.createdAt),
      last_seen_at: iso(s.lastSeenAt),
      expires_at: iso(s.expiresAt),
      ended_at: iso(s.deletedAt),
      end_reason: s.deleteReason,
    })),
    api_tokens: ctx.tokens.list(userId).map((t) => ({
      id: t.id,
      name: t.name,
      hint: t.hint,
      scope: t.scope,
      created_at: iso(t.createdAt),
      expires_at: iso(t.expiresAt),
      last_used_at: iso(t.lastUsedAt),
      last_used_ip: t.lastUsedIp,
      revoked_at: iso(t.revokedAt),
    })),
    audit_events: ctx.auditLog.aboutUser(userId).map((e) => ({
      id: e.id,
      at: iso(e.at),
      event: e.event,
      ip: e.ip,
      details: e.details,
      count: e.count,
      last_at: iso(e.lastAt),
    })),
  };
}

export type PersonalData = ReturnType<typeof exportPersonalData>;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
