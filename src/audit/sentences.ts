// Audit entries in words for the admin pages: one sentence per entry from its event and
// details ("alice signed in", "Session 1a2b… of kim was ended by administrator alex"), a
// short name per event for the filter, and who acted (`by`) in words. The CSV export and
// the API keep the stable codes and raw details; only the pages read these.

import type { AuditEntry } from './query.js';

type Details = Record<string, unknown>;

/** What a sentence is made from: the entry's details and the user it is about, as shown. */
interface Facts {
  details: Details;
  /** The user the entry is about as the page names them ("alice", "#7 (deleted)"), or '' for none. */
  subject: string;
}

/** A detail as text, or '' when absent or not a scalar (old rows, unexpected shapes). */
function str(d: Details, key: string): string {
  const v = d[key];
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v).slice(0, 200) : '';
}

function num(d: Details, key: string): number | null {
  const v = d[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** An epoch-ms detail as the pages show times (UTC, to the minute). */
function utc(ms: number | null): string {
  return ms === null ? 'an unknown time' : `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

/** A length of time in the largest whole unit that fits ("15 minutes", "2 hours"). */
export function spokenDuration(ms: number): string {
  for (const [unit, size] of [['day', 86_400_000], ['hour', 3_600_000], ['minute', 60_000]] as const) {
    if (ms >= size) return plural(Math.round(ms / size), unit);
  }
  return plural(Math.max(1, Math.round(ms / 1000)), 'second');
}

/** Who acted, from an audit `by` (`user:…`, `admin:…`, `api:…`, `token:…`, `cli:…`, `system`). */
export type Actor =
  | { kind: 'user' | 'admin' | 'api'; name: string }
  | { kind: 'token'; id: string }
  | { kind: 'cli'; osUser: string | null }
  | { kind: 'system' }
  | { kind: 'other'; text: string };

export function actorOf(by: unknown): Actor | null {
  if (typeof by !== 'string' || by === '') return null;
  if (by === 'system') return { kind: 'system' };
  const colon = by.indexOf(':');
  const kind = colon > 0 ? by.slice(0, colon) : '';
  const rest = by.slice(colon + 1).slice(0, 100);
  if (kind === 'user' || kind === 'admin' || kind === 'api') return { kind, name: rest };
  if (kind === 'token') return { kind, id: rest };
  if (kind === 'cli') return { kind, osUser: rest && rest !== 'unknown' ? rest : null };
  return { kind: 'other', text: by.slice(0, 100) };
}

/** The actor as it follows a verb (" by administrator alex"); '' when the subject acted or nobody did. */
function byWords(by: unknown, subject: string): string {
  const a = actorOf(by);
  if (!a) return '';
  switch (a.kind) {
    case 'user':
      return a.name === subject ? '' : ` by ${a.name}`;
    case 'admin':
      return ` by administrator ${a.name}`;
    case 'api':
      return a.name === subject ? ' through the API' : ` by ${a.name} through the API`;
    case 'token':
      return ` with API token #${a.id}`;
    case 'cli':
      return ` on the command line${a.osUser ? ` (by ${a.osUser})` : ''}`;
    case 'system':
      return '';
    case 'other':
      return ` by ${a.text}`;
  }
}

/** Whether the subject acted on their own account (a `by` naming them as a user). */
function bySelf(by: unknown, subject: string): boolean {
  const a = actorOf(by);
  return a !== null && a.kind === 'user' && a.name === subject;
}

const who = (subject: string) => subject || 'someone';
const session = (d: Details) => (str(d, 'session') ? ` (session ${str(d, 'session')})` : '');
/** " #12" for a numbered thing (token, passkey), '' when the number is missing. */
const no = (d: Details, key: string) => (str(d, key) ? ` #${str(d, key)}` : '');
/** ": why" from a table of reasons, '' when the reason is missing or unknown and empty. */
const because = (table: Record<string, string>, d: Details, key = 'reason') => {
  const words = table[str(d, key)] ?? str(d, key);
  return words ? `: ${words}` : '';
};
/** " for 15 minutes", '' when the length is missing. */
const lasting = (d: Details) => (num(d, 'duration_ms') !== null ? ` for ${spokenDuration(num(d, 'duration_ms') as number)}` : '');
const ended = (d: Details) => {
  const n = num(d, 'sessions_revoked');
  return n === null ? '' : `; ${plural(n, 'session')} ended`;
};

/** Why a session ended, as it reads after "ended: ". */
const END_REASON_WORDS: Record<string, string> = {
  logout: 'signed out',
  expired: 'expired',
  'ip-mismatch': 'used from another network',
  revoked: 'signed out',
  'password-changed': 'password changed',
  'user-disabled': 'account disabled',
  'user-deleted': 'account deleted',
  'session-limit': 'too many sessions at once',
  regenerated: 'replaced at sign-in',
  cleared: 'all sessions cleared',
  'second-factor-enrolled': 'two-factor sign-in turned on',
  'second-factor-reset': 'second factors reset',
};

const LOGIN_FAILED: Record<string, string> = {
  'bad-credentials': 'wrong username or password',
  'user-disabled': 'the account is disabled',
  'invalid-input': 'the form was malformed',
};
const THROTTLED: Record<string, string> = {
  'ip-banned': 'this address is banned',
  'user-locked': 'the username is locked',
  backoff: 'too many failures, slowed down',
};
const FACTOR: Record<string, string> = { totp: 'authenticator code', 'recovery-code': 'recovery code', passkey: 'passkey' };
const FACTOR_FAILURE: Record<string, string> = {
  'invalid-code': 'wrong code',
  'replayed-code': 'a code already used',
  malformed: 'malformed input',
  'not-enrolled': 'no authenticator app set up',
  'unknown-credential': 'a passkey this account does not have',
  invalid: 'the passkey’s answer did not verify',
  'counter-regression': 'the passkey’s counter went back, a sign of a copied key',
};
const SETUP_REJECTED: Record<string, string> = {
  invalid: 'the setup link is not valid',
  expired: 'the setup link expired',
  used: 'the setup link was already used',
  'setup-complete': 'setup is already complete',
};
const DEVICE_FORGOTTEN: Record<string, string> = {
  revoked: 'by its owner',
  'password-changed': 'as the password changed',
  'second-factor-reset': 'as the second factors were reset',
  'user-disabled': 'as the account was disabled',
};

function banTarget(d: Details, subject: string, ip: string): string {
  switch (str(d, 'scope')) {
    case 'ip':
      return `address ${ip || 'unknown'}`;
    case 'user':
      return `username ${who(subject)}`;
    default:
      return `username ${who(subject)} from address ${ip || 'unknown'}`;
  }
}

interface EventWords {
  /** A short name for the event filter. */
  name: string;
  say(f: Facts, ip: string): string;
}

/** Every event gatehouse writes (src/audit/events.ts), in words. */
const EVENTS: Record<string, EventWords> = {
  'login-succeeded': {
    name: 'Signed in',
    say: ({ details: d, subject }) => `${who(subject)} signed in${d.remember === true ? ', staying signed in on that device' : ''}${session(d)}`,
  },
  'login-failed': {
    name: 'Sign-in failed',
    say: ({ details: d, subject }) => {
      const name = subject || (d.more_usernames === true ? 'several further usernames' : 'an unknown user');
      return `Sign-in failed for ${name}${because(LOGIN_FAILED, d)}`;
    },
  },
  'login-throttled': {
    name: 'Sign-in throttled',
    say: ({ details: d, subject }) =>
      `Sign-in refused unchecked for ${subject || 'an unknown user'}${because(THROTTLED, d)}${num(d, 'retry_after') !== null ? ` (try again in ${spokenDuration((num(d, 'retry_after') as number) * 1000)})` : ''}`,
  },
  logout: { name: 'Signed out', say: ({ details: d, subject }) => `${who(subject)} signed out${session(d)}` },
  'session-revoked': {
    name: 'Session ended',
    say: ({ details: d, subject }) => {
      const head = `Session${str(d, 'session') ? ` ${str(d, 'session')}` : ''} of ${who(subject)}`;
      const reason = str(d, 'reason');
      if (reason === 'revoked') return bySelf(d.by, subject) ? `${head} was signed out from another of their devices` : `${head} was ended${byWords(d.by, '')}`;
      return `${head} ended${because(END_REASON_WORDS, d)}${byWords(d.by, subject)}`;
    },
  },
  'session-theft-detected': {
    name: 'Session used from another network',
    say: ({ details: d, subject }) =>
      `Session${str(d, 'session') ? ` ${str(d, 'session')}` : ''} of ${who(subject)} was ended for safety: signed in from ${str(d, 'bound_ip') || 'an unknown address'}, then used from ${str(d, 'seen_ip') || 'an unknown address'}`,
  },
  'session-resurrection-blocked': {
    name: 'Ended session kept ended',
    say: ({ details: d, subject }) => `A request tried to save an ended session of ${who(subject)}${session(d)}; it stays ended${str(d, 'state') ? ` (${str(d, 'state')})` : ''}`,
  },
  'user-created': {
    name: 'User added',
    say: ({ details: d, subject }) => {
      const groups = Array.isArray(d.groups) ? d.groups.filter((g): g is string => typeof g === 'string') : [];
      return `User ${who(subject)} was added${byWords(d.by, '')}${groups.length ? `, in ${groups.length === 1 ? 'group' : 'groups'} ${groups.join(', ')}` : ''}`;
    },
  },
  'user-updated': {
    name: 'User changed',
    say: ({ details: d, subject }) => {
      const changes = (d.changes && typeof d.changes === 'object' ? d.changes : {}) as Details;
      const parts: string[] = [];
      if (changes.display_name) parts.push('display name');
      if (changes.email) parts.push('email address');
      const groups = changes.groups as { from?: unknown; to?: unknown } | undefined;
      if (groups && typeof groups === 'object') {
        const list = (v: unknown) => (Array.isArray(v) && v.length ? v.filter((g) => typeof g === 'string').join(', ') : 'none');
        parts.push(`groups (from ${list(groups.from)} to ${list(groups.to)})`);
      }
      return `${parts.length ? `The ${parts.join(' and ')} of` : 'The profile of'} ${who(subject)} changed${byWords(d.by, '')}`;
    },
  },
  'user-disabled': { name: 'User disabled', say: ({ details: d, subject }) => `${who(subject)} was disabled${byWords(d.by, '')}${ended(d)}` },
  'user-enabled': { name: 'User enabled', say: ({ details: d, subject }) => `${who(subject)} was enabled${byWords(d.by, '')}` },
  'user-deleted': { name: 'User deleted', say: ({ details: d, subject }) => `${who(subject)} was deleted${byWords(d.by, '')}${ended(d)}` },
  'password-changed': {
    name: 'Password changed',
    say: ({ details: d, subject }) =>
      bySelf(d.by, subject)
        ? `${who(subject)} changed their password${num(d, 'sessions_revoked') ? `; ${plural(num(d, 'sessions_revoked') as number, 'other session')} signed out` : ''}`
        : `The password of ${who(subject)} was changed${byWords(d.by, '')}${ended(d)}`,
  },
  'password-reset': { name: 'Password reset', say: ({ details: d, subject }) => `The password of ${who(subject)} was reset${byWords(d.by, '')}${ended(d)}` },
  'account-deletion-requested': { name: 'Deletion requested', say: ({ subject }) => `${who(subject)} asked for their account to be deleted` },
  'account-deletion-cancelled': {
    name: 'Deletion request withdrawn or declined',
    say: ({ details: d, subject }) =>
      bySelf(d.by, subject) ? `${who(subject)} withdrew their deletion request` : `The deletion request of ${who(subject)} was declined${byWords(d.by, '')}`,
  },
  'personal-data-exported': { name: 'Personal data downloaded', say: ({ subject }) => `${who(subject)} downloaded their personal data` },
  'reauth-succeeded': { name: 'Password confirmed', say: ({ subject }) => `${who(subject)} confirmed their password before a sensitive action` },
  'reauth-failed': { name: 'Password confirmation failed', say: ({ subject }) => `${who(subject)} typed a wrong password when asked to confirm it` },
  'api-token-created': {
    name: 'API token created',
    say: ({ details: d, subject }) =>
      `${who(subject)} created API token${no(d, 'token')} (scope ${str(d, 'scope') || 'unknown'}, expires ${utc(num(d, 'expires_at'))})${byWords(d.by, subject)}`,
  },
  'api-token-revoked': { name: 'API token revoked', say: ({ details: d, subject }) => `API token${no(d, 'token')} of ${who(subject)} was revoked${byWords(d.by, subject)}` },
  'passkey-registered': { name: 'Passkey added', say: ({ details: d, subject }) => `${who(subject)} added passkey${no(d, 'passkey')}${str(d, 'name') ? ` "${str(d, 'name')}"` : ''}` },
  'passkey-removed': { name: 'Passkey removed', say: ({ details: d, subject }) => `Passkey${no(d, 'passkey')} of ${who(subject)} was removed${byWords(d.by, subject)}` },
  'passkey-used': { name: 'Passkey used', say: ({ details: d, subject }) => `${who(subject)} used passkey${no(d, 'passkey')} to sign in` },
  'device-remembered': {
    name: 'Device remembered',
    say: ({ details: d, subject }) => `A browser of ${who(subject)} is remembered until ${utc(num(d, 'until'))}: it skips the second sign-in step`,
  },
  'device-forgotten': {
    name: 'Remembered device forgotten',
    say: ({ details: d, subject }) =>
      `${plural(num(d, 'count') ?? 1, 'remembered browser')} of ${who(subject)} forgotten${DEVICE_FORGOTTEN[str(d, 'reason')] ? ` ${DEVICE_FORGOTTEN[str(d, 'reason')]}` : str(d, 'reason') ? ` (${str(d, 'reason')})` : ''}`,
  },
  'setup-token-issued': { name: 'Setup link issued', say: () => 'A first-run setup link was issued' },
  'setup-completed': { name: 'Setup completed', say: ({ subject }) => `First-run setup completed: ${who(subject)} is the first administrator` },
  'setup-rejected': { name: 'Setup refused', say: ({ details: d }) => `A first-run setup attempt was refused${because(SETUP_REJECTED, d)}` },
  'totp-enrollment-started': { name: 'Authenticator set-up begun', say: ({ subject }) => `${who(subject)} began setting up an authenticator app` },
  'totp-enrolled': { name: 'Authenticator added', say: ({ subject }) => `${who(subject)} turned on an authenticator app` },
  'totp-removed': { name: 'Authenticator removed', say: ({ details: d, subject }) => `The authenticator app of ${who(subject)} was removed${byWords(d.by, subject)}` },
  'totp-accepted': { name: 'Authenticator code accepted', say: ({ subject }) => `${who(subject)} passed the second step with an authenticator code` },
  'recovery-codes-generated': {
    name: 'Recovery codes made',
    say: ({ details: d, subject }) => {
      const replaced = num(d, 'replaced') ?? 0;
      return `${plural(num(d, 'count') ?? 0, 'new recovery code')} for ${who(subject)}${byWords(d.by, subject)}${replaced ? `; ${plural(replaced, 'unused old code')} stopped working` : ''}`;
    },
  },
  'recovery-code-used': { name: 'Recovery code used', say: ({ details: d, subject }) => `${who(subject)} used a recovery code; ${plural(num(d, 'remaining') ?? 0, 'code')} left` },
  'second-factor-failed': {
    name: 'Second step failed',
    say: ({ details: d, subject }) =>
      `Second sign-in step failed for ${who(subject)}${because(FACTOR_FAILURE, d)}${str(d, 'method') ? ` (${FACTOR[str(d, 'method')] ?? str(d, 'method')}${no(d, 'passkey')})` : ''}`,
  },
  'second-factor-throttled': {
    name: 'Second step throttled',
    say: ({ details: d, subject }) => `Second sign-in step refused unchecked for ${who(subject)}: too many wrong codes${num(d, 'retry_after') !== null ? ` (try again in ${spokenDuration((num(d, 'retry_after') as number) * 1000)})` : ''}`,
  },
  'second-factor-locked': {
    name: 'Second step locked',
    say: ({ details: d, subject }) => `The second sign-in step of ${who(subject)} is locked${lasting(d)} after wrong codes${num(d, 'until') !== null ? `, until ${utc(num(d, 'until'))}` : ''}`,
  },
  'second-factor-reset': {
    name: 'Second factors reset',
    say: ({ details: d, subject }) => {
      const removed = [d.totp === true ? 'the authenticator app' : '', num(d, 'passkeys') ? plural(num(d, 'passkeys') as number, 'passkey') : '', num(d, 'recovery_codes') ? plural(num(d, 'recovery_codes') as number, 'recovery code') : '']
        .filter(Boolean)
        .join(', ');
      const head = bySelf(d.by, subject) ? `${who(subject)} turned two-factor sign-in off` : `The second factors of ${who(subject)} were reset${byWords(d.by, subject)}`;
      return `${head}${removed ? ` (removed ${removed})` : ''}${ended(d)}`;
    },
  },
  'ban-imposed': {
    name: 'Ban imposed',
    say: ({ details: d, subject }, ip) => {
      const cause = str(d, 'cause') === 'spraying' ? 'trying many usernames' : 'failed sign-ins';
      const n = num(d, 'count');
      return `Sign-ins from ${banTarget(d, subject, ip)} blocked${lasting(d)} after ${cause}${n !== null && n > 1 ? ` (ban number ${n}; each lasts longer)` : ''}`;
    },
  },
  'ban-lifted': { name: 'Ban lifted', say: ({ details: d, subject }, ip) => `The ban on ${banTarget(d, subject, ip)} was lifted${byWords(d.by, '')}` },
};

/** The events with words (every event src/audit/events.ts writes; a test keeps the two equal). */
export const DESCRIBED_EVENTS: readonly string[] = Object.keys(EVENTS);

/** The short name of an event for the filter list; the code itself for an event without words. */
export function eventName(event: string): string {
  return EVENTS[event]?.name ?? event;
}

/**
 * One entry as a sentence. `subject` is the user it is about as the page names them. An
 * event without words (an older or newer version's) reads as its code and details.
 */
export function auditSentence(entry: Pick<AuditEntry, 'event' | 'details' | 'ip'>, subject: string): string {
  const words = EVENTS[entry.event];
  const details = entry.details && typeof entry.details === 'object' ? entry.details : {};
  if (!words) {
    const rest = Object.entries(details)
      .map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(', ');
    return `${entry.event}${subject ? ` (${subject})` : ''}${rest ? `: ${rest}` : ''}`.slice(0, 300);
  }
  return `${words.say({ details, subject }, entry.ip ?? '')}.`;
}
