// The theft check every session use goes through (pages, /auth/verify, /auth/forward): a
// session used from an address its binding does not allow is ended (reason ip-mismatch,
// both addresses recorded), audited, and the request is treated as signed out.

import type { Audit, SessionEndReason } from '../audit/events.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../lib/log.js';
import { handleOf } from '../sessions/store.js';
import type { UserRepository } from '../users/repository.js';
import { createIpBinding } from './binding.js';

export interface SessionGuard {
  /** False (and the session is ended) when `seenIp` may not use a session bound to `boundIp`. */
  admit(session: { hash: string; userId: number | null; boundIp: string | null }, seenIp: string, via: 'page' | 'verify' | 'forward'): boolean;
}

/** What the guard works with: it ends the session, names its user, audits and logs. */
export interface SessionGuardDeps {
  sessions: { revokeHash(hash: string, reason: SessionEndReason, detail?: Record<string, unknown>): boolean };
  users: Pick<UserRepository, 'findById'>;
  audit: Pick<Audit, 'theftDetected'>;
  log: Logger;
}

export function createSessionGuard(section: Pick<Config['session'], 'ip_binding' | 'ip_binding_exempt_networks'>, deps: SessionGuardDeps): SessionGuard {
  const binding = createIpBinding(section.ip_binding, section.ip_binding_exempt_networks);
  return {
    admit(session, seenIp, via) {
      if (binding.allows(session.boundIp, seenIp)) return true;
      const boundIp = session.boundIp as string;
      deps.sessions.revokeHash(session.hash, 'ip-mismatch', { bound_ip: boundIp, seen_ip: seenIp, notified: false });
      const handle = handleOf(session.hash);
      const username = session.userId === null ? null : (deps.users.findById(session.userId)?.username ?? null);
      deps.audit.theftDetected({ userId: session.userId, username, ip: seenIp, session: handle, boundIp, via });
      deps.log.warn({ event: 'session-theft-detected', user: username, boundIp, seenIp, session: handle, via }, 'session used from another address: ended');
      return false;
    },
  };
}
