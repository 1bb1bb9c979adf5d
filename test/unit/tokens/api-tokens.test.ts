// Personal API tokens: shown once, stored hashed, scoped, expiring, revocable, last use recorded.

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { createContext, type AppContext } from '../../../src/context.js';
import { scopeAllows, TOKEN_PREFIX } from '../../../src/tokens/api-tokens.js';
import type { User } from '../../../src/users/repository.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, tempDir, testConfig } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

const DAY = 86_400_000;

describe('API tokens', () => {
  let dir: string;
  let ctx: AppContext;
  let clock: FakeClock;
  let alice: User;
  beforeEach(async () => {
    dir = tempDir();
    clock = new FakeClock();
    ctx = createContext(testConfig(dir), { clock, changePollMs: 0 });
    alice = await addUser(ctx, 'alice');
  });
  afterEach(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const create = (over: Partial<Parameters<AppContext['tokens']['create']>[0]> = {}) =>
    ctx.tokens.create({ userId: alice.id, username: 'alice', name: 'backup script', scope: 'read', lifetimeMs: 30 * DAY, by: 'user:alice', ...over });

  it('returns a 256-bit token once and stores only its SHA-256', () => {
    const { token, info } = create();
    expect(token.startsWith(TOKEN_PREFIX)).to.equal(true);
    expect(token.length).to.equal(TOKEN_PREFIX.length + 43);
    expect(info.hint).to.equal(token.slice(0, 10));
    ctx.db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = readFileSync(join(dir, 'gatehouse.db')).toString('latin1');
    expect(bytes).not.to.include(token.slice(TOKEN_PREFIX.length));
    expect(JSON.stringify(ctx.tokens.list(alice.id))).not.to.include(token.slice(TOKEN_PREFIX.length));
  });

  it('authenticates a live token and refuses malformed, unknown, revoked and expired ones', () => {
    const { token, info } = create();
    expect(ctx.tokens.authenticate(token, '192.0.2.1')?.id).to.equal(info.id);
    expect(ctx.tokens.authenticate(`${token}x`, '192.0.2.1')).to.equal(null);
    expect(ctx.tokens.authenticate(`${TOKEN_PREFIX}${'A'.repeat(43)}`, '192.0.2.1')).to.equal(null);
    expect(ctx.tokens.authenticate('', '192.0.2.1')).to.equal(null);
    ctx.tokens.revoke(alice.id, info.id, 'user:alice');
    expect(ctx.tokens.authenticate(token, '192.0.2.1')).to.equal(null, 'revoked (and evicted from the cache)');
    const second = create();
    expect(ctx.tokens.authenticate(second.token, '192.0.2.1')).not.to.equal(null);
    clock.advance(30 * DAY);
    expect(ctx.tokens.authenticate(second.token, '192.0.2.1')).to.equal(null, 'expired');
  });

  it('notices a revocation written by another process (the CLI) although the token is cached', () => {
    const { token, info } = create();
    expect(ctx.tokens.authenticate(token, '192.0.2.1')).not.to.equal(null);
    const cli = createContext(testConfig(dir), { clock, changePollMs: 0 });
    try {
      cli.tokens.revoke(alice.id, info.id, 'cli');
    } finally {
      cli.close();
    }
    expect(ctx.tokens.authenticate(token, '192.0.2.1')).to.equal(null);
  });

  it('records the last use at most once a minute, whatever the address', () => {
    const { token, info } = create();
    ctx.tokens.authenticate(token, '192.0.2.1');
    const first = ctx.tokens.list(alice.id)[0];
    expect(first?.lastUsedAt).to.equal(clock.now());
    expect(first?.lastUsedIp).to.equal('192.0.2.1');
    clock.advance(10_000);
    ctx.tokens.authenticate(token, '192.0.2.1');
    expect(ctx.tokens.list(alice.id)[0]?.lastUsedAt).to.equal(first?.lastUsedAt);
    // Two addresses in turn (v4 and v6, say) must not turn every check into a write.
    ctx.tokens.authenticate(token, '192.0.2.99');
    expect(ctx.tokens.list(alice.id)[0]?.lastUsedIp).to.equal('192.0.2.1');
    clock.advance(60_000);
    ctx.tokens.authenticate(token, '192.0.2.99');
    expect(ctx.tokens.list(alice.id)[0]).to.include({ lastUsedIp: '192.0.2.99', lastUsedAt: clock.now() });
    expect(info.lastUsedAt).to.equal(null, 'the info returned at creation is a snapshot');
  });

  it('refuses bad names, scopes and lifetimes', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
        return 'none';
      } catch (err) {
        return (err as { code?: string }).code;
      }
    };
    expect(codeOf(() => create({ name: '' }))).to.equal('invalid-token-name');
    expect(codeOf(() => create({ name: 'x'.repeat(65) }))).to.equal('invalid-token-name');
    expect(codeOf(() => create({ name: 'a\u202Eb' }))).to.equal('invalid-token-name');
    expect(codeOf(() => create({ scope: 'root' as never }))).to.equal('invalid-scope');
    expect(codeOf(() => create({ lifetimeMs: 0 }))).to.equal('invalid-lifetime');
    expect(codeOf(() => create({ lifetimeMs: 367 * DAY }))).to.equal('invalid-lifetime');
  });

  it('revokes only the owner\'s tokens: another user gets a 404', async () => {
    const bob = await addUser(ctx, 'bob');
    const { info } = create();
    expect(() => ctx.tokens.revoke(bob.id, info.id, 'user:bob')).to.throw().with.property('status', 404);
    expect(ctx.tokens.list(alice.id)[0]?.revokedAt).to.equal(null);
  });

  it('deletes a user\'s tokens with the user', () => {
    create();
    ctx.accounts.delete('alice', 'test');
    expect(ctx.db.prepare('SELECT count(*) FROM api_tokens').pluck().get()).to.equal(0);
    // A token still cached would name a user who no longer exists: callers check the user.
    expect(ctx.users.findById(alice.id)).to.equal(null);
  });

  it('orders scopes read < write < admin', () => {
    expect(scopeAllows('admin', 'write')).to.equal(true);
    expect(scopeAllows('write', 'read')).to.equal(true);
    expect(scopeAllows('read', 'write')).to.equal(false);
    expect(scopeAllows('write', 'admin')).to.equal(false);
  });

  it('writes audit events that name the token by id, never its secret', () => {
    const { token, info } = create();
    ctx.tokens.revoke(alice.id, info.id, 'user:alice');
    const events = recentAudit(ctx, 10).filter((e) => e.event.startsWith('api-token-'));
    expect(events.map((e) => e.event)).to.deep.equal(['api-token-revoked', 'api-token-created']);
    expect(JSON.stringify(events)).not.to.include(token.slice(TOKEN_PREFIX.length));
  });

  it('a password change or reset revokes all of the user\'s tokens, and only theirs', async () => {
    const bob = await addUser(ctx, 'bob');
    const mine = create();
    const theirs = ctx.tokens.create({ userId: bob.id, username: 'bob', name: 'bob script', scope: 'read', lifetimeMs: 30 * DAY, by: 'user:bob' });
    expect(ctx.tokens.authenticate(mine.token, '192.0.2.1')).not.to.equal(null); // cached now
    const result = await ctx.accounts.setPassword('alice', 'an entirely new family passphrase', 'admin:root', { reset: true });
    expect(result.tokensRevoked).to.equal(1);
    expect(ctx.tokens.authenticate(mine.token, '192.0.2.1')).to.equal(null);
    expect(ctx.tokens.authenticate(theirs.token, '192.0.2.1')).not.to.equal(null);
    expect(ctx.tokens.list(alice.id)[0]?.revokedAt).to.equal(clock.now());
  });
});
