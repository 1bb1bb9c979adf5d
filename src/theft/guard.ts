// The theft check every session use goes through (pages, /auth/verify, /auth/forward): a
// session used from an address its binding does not allow is ended (reason ip-mismatch,
// both addresses recorded), audited, and the request is treated as signed out.

import type { AppContext } from '../context.js';
import { handleOf } from '../sessions/store.js';
import { createIpBinding } from './binding.js';

export interface SessionGuard {
  /** False (and the session is ended) when `seenIp` may not use a session bound to `boundIp`. */
  admit(session: { hash: string; userId: number | null; boundIp: string | null }, seenIp: string, via: 'page' | 'verify' | 'forward'): boolean;
}

export function createSessionGuard(ctx: Pick<AppContext, 'config' | 'sessions' | 'audit' | 'log' | 'users'>): SessionGuard {
  const binding = createIpBinding(ctx.config.session.ip_binding, ctx.config.session.ip_binding_exempt_networks);
  return {
    admit(session, seenIp, via) {
      if (binding.allows(session.boundIp, seenIp)) return true;
      const boundIp = session.boundIp as string;
      ctx.sessions.revokeHash(session.hash, 'ip-mismatch', { bound_ip: boundIp, seen_ip: seenIp, notified: false });
      const handle = handleOf(session.hash);
      const username = session.userId === null ? null : (ctx.users.findById(session.userId)?.username ?? null);
      ctx.audit.theftDetected({ userId: session.userId, username, ip: seenIp, session: handle, boundIp, via });
      ctx.log.warn({ event: 'session-theft-detected', user: username, boundIp, seenIp, session: handle, via }, 'session used from another address: ended');
      return false;
    },
  };
}
