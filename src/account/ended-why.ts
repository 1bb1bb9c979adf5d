// Why one of your sessions ended, in words, for the "Recently ended sessions" list on
// /account: from the end reason and who ended it (the `by` kept with the session), so a
// session an administrator ended never reads as if you had signed it out yourself.

import type { SessionEndReason } from '../audit/events.js';
import { actorOf } from '../audit/sentences.js';
import type { SessionInfo } from '../sessions/types.js';

/** Why a session ended, in words a household member understands. */
const END_REASONS: Record<SessionEndReason, string> = {
  logout: 'Signed out',
  expired: 'Expired',
  'ip-mismatch': 'Ended for safety: used from another network',
  revoked: 'Ended from another device or by an administrator',
  'password-changed': 'Password changed',
  'user-disabled': 'Account disabled',
  'user-deleted': 'Account deleted',
  'session-limit': 'Too many sessions at once',
  regenerated: 'Replaced at sign-in',
  cleared: 'Ended by an administrator',
  'second-factor-enrolled': 'Two-factor sign-in turned on',
  'second-factor-reset': 'Second factors reset',
};

/**
 * Who ended a session, when it was not its owner: "an administrator (alex)". Null when the
 * owner did it (from another of their sessions) or nobody is recorded (older rows, expiry).
 */
function administrator(by: string | null, owner: string): string | null {
  const a = actorOf(by);
  if (!a) return null;
  switch (a.kind) {
    case 'admin':
    case 'api':
      return a.name === owner ? null : `an administrator (${a.name})`;
    case 'token':
      return 'an administrator, through the API';
    case 'cli':
      return 'an administrator, on the command line';
    default:
      return null;
  }
}

/** The "Why" of an ended session on its owner's page, from the end reason and who ended it. */
export function endedWhy(s: Pick<SessionInfo, 'deleteReason' | 'endedBy'>, owner: string): string {
  const reason = s.deleteReason;
  if (reason === null) return 'Ended';
  const admin = administrator(s.endedBy, owner);
  const self = s.endedBy === `user:${owner}` || s.endedBy === `admin:${owner}` || s.endedBy === `api:${owner}`;
  switch (reason) {
    case 'revoked':
      return admin ? `Ended by ${admin}` : self ? 'Signed out from another device' : END_REASONS.revoked;
    case 'password-changed':
      return admin ? `Password reset by ${admin}` : END_REASONS[reason];
    case 'second-factor-reset':
      return admin ? `Second factors reset by ${admin}` : END_REASONS[reason];
    case 'user-disabled':
      return admin ? `Account disabled by ${admin}` : END_REASONS[reason];
    default:
      return END_REASONS[reason] ?? reason;
  }
}
