// Audit entries in words for the admin pages: every event gatehouse writes has a sentence,
// `by` reads as who acted, details of odd shapes never throw, unknown events fall back.

import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { auditSentence, DESCRIBED_EVENTS, eventName } from '../../../src/audit/sentences.js';

const say = (event: string, details: Record<string, unknown>, subject = 'kim', ip: string | null = '192.0.2.10') => auditSentence({ event, details, ip }, subject);

describe('audit sentences', () => {
  it('has words for exactly the events src/audit/events.ts writes', () => {
    const source = readFileSync(new URL('../../../src/audit/events.ts', import.meta.url), 'utf8');
    const written = new Set([...source.matchAll(/this\.write\(\s*'([a-z-]+)'/g)].map((m) => m[1] as string));
    for (const m of source.matchAll(/\? '([a-z-]+)' : '([a-z-]+)'/g)) written.add(m[1] as string).add(m[2] as string);
    expect(written.size).to.be.greaterThan(40);
    expect([...DESCRIBED_EVENTS].sort()).to.deep.equal([...written].sort());
  });

  it('reads the actor: the subject themselves, an administrator, the API, a token, the command line', () => {
    expect(say('session-revoked', { session: 'a1b2c3d4e5f6', reason: 'revoked', by: 'admin:alex' })).to.equal('Session a1b2c3d4e5f6 of kim was ended by administrator alex.');
    expect(say('session-revoked', { session: 'a1b2c3d4e5f6', reason: 'revoked', by: 'user:kim' })).to.equal('Session a1b2c3d4e5f6 of kim was signed out from another of their devices.');
    expect(say('session-revoked', { session: 'a1b2c3d4e5f6', reason: 'password-changed', by: 'cli:root' })).to.equal('Session a1b2c3d4e5f6 of kim ended: password changed on the command line (by root).');
    expect(say('user-disabled', { by: 'token:4', sessions_revoked: 2 })).to.equal('kim was disabled with API token #4; 2 sessions ended.');
    expect(say('user-created', { by: 'api:alex', groups: ['family'] })).to.equal('User kim was added by alex through the API, in group family.');
    expect(say('password-changed', { by: 'user:kim', sessions_revoked: 1 })).to.equal('kim changed their password; 1 other session signed out.');
    expect(say('password-reset', { by: 'admin:alex', sessions_revoked: 0 })).to.equal('The password of kim was reset by administrator alex; 0 sessions ended.');
    expect(say('account-deletion-cancelled', { by: 'user:kim' })).to.equal('kim withdrew their deletion request.');
    expect(say('account-deletion-cancelled', { by: 'admin:alex' })).to.equal('The deletion request of kim was declined by administrator alex.');
  });

  it('turns sign-in refusals, bans and tokens into sentences without codes or key=value pairs', () => {
    expect(say('login-failed', { reason: 'bad-credentials' })).to.equal('Sign-in failed for kim: wrong username or password.');
    expect(say('login-failed', { reason: 'bad-credentials', more_usernames: true }, '')).to.equal('Sign-in failed for several further usernames: wrong username or password.');
    expect(say('login-throttled', { reason: 'ip-banned', retry_after: 900 })).to.equal('Sign-in refused unchecked for kim: this address is banned (try again in 15 minutes).');
    expect(say('ban-imposed', { scope: 'ip', cause: 'failures', until: 0, duration_ms: 3_600_000, count: 2 }, '')).to.equal(
      'Sign-ins from address 192.0.2.10 blocked for 1 hour after failed sign-ins (ban number 2; each lasts longer).',
    );
    expect(say('api-token-created', { token: 3, scope: 'read', expires_at: Date.UTC(2026, 3, 1, 12, 0), by: 'user:kim' })).to.equal(
      'kim created API token #3 (scope read, expires 2026-04-01 12:00 UTC).',
    );
    expect(say('user-updated', { by: 'admin:alex', changes: { email: true, groups: { from: [], to: ['family'] } } })).to.equal(
      'The email address and groups (from none to family) of kim changed by administrator alex.',
    );
  });

  it('never throws on details of unexpected shapes, and never prints a raw object', () => {
    for (const event of DESCRIBED_EVENTS) {
      for (const details of [{}, { by: 5, session: { a: 1 }, reason: ['x'], groups: 'admins', changes: 'x', count: 'many' }]) {
        const text = say(event, details as Record<string, unknown>);
        expect(text, event).to.be.a('string').and.not.match(/\[object|undefined|NaN|=/);
        expect(text.endsWith('.'), event).to.equal(true);
      }
    }
  });

  it('falls back to the code and details for an event it has no words for', () => {
    expect(say('future-event', { thing: 'x', n: 2 })).to.equal('future-event (kim): thing x, n 2');
    expect(eventName('future-event')).to.equal('future-event');
    expect(eventName('login-failed')).to.equal('Sign-in failed');
  });
});
