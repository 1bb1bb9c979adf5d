// Account rules that do not need HTTP: display names, ids never reused.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { createContext, type AppContext } from '../../../src/context.js';
import { passwordChangeRequired } from '../../../src/passwords/policy.js';
import type { User } from '../../../src/users/repository.js';
import { GOOD_PASSWORD, tempDir, testConfig } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

describe('accounts', () => {
  let dir: string;
  let ctx: AppContext;
  beforeEach(() => {
    dir = tempDir();
    ctx = createContext(testConfig(dir));
  });
  afterEach(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses display names with control, bidi-override or zero-width characters', async () => {
    for (const displayName of ['Eve\u202Egnp.exe', 'Ad\u200Bmin', 'line\nbreak']) {
      let code = '';
      try {
        await ctx.accounts.create({ username: 'eve', password: GOOD_PASSWORD, displayName, by: 'test' });
      } catch (err) {
        code = (err as { code?: string }).code ?? '';
      }
      expect(code, JSON.stringify(displayName)).to.equal('invalid-display-name');
    }
    const ok = await ctx.accounts.create({ username: 'zoe', password: GOOD_PASSWORD, displayName: 'Zoë 山田', by: 'test' });
    expect(ok.displayName).to.equal('Zoë 山田');
  });

  it('never reuses the id of a deleted user, so old audit entries stay attributable', async () => {
    await ctx.accounts.create({ username: 'first', password: GOOD_PASSWORD, by: 'test' });
    const second = await ctx.accounts.create({ username: 'second', password: GOOD_PASSWORD, by: 'test' });
    ctx.accounts.delete('second', 'test');
    const third = await ctx.accounts.create({ username: 'third', password: GOOD_PASSWORD, by: 'test' });
    expect(third.id).to.be.greaterThan(second.id);
  });
});

describe('user cache', () => {
  let dir: string;
  let ctx: AppContext;
  beforeEach(() => {
    dir = tempDir();
    ctx = createContext(testConfig(dir), { changePollMs: 0 });
  });
  afterEach(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a user from memory but sees changes made here and by another process (the CLI)', async () => {
    const alice = await ctx.accounts.create({ username: 'alice', password: GOOD_PASSWORD, by: 'test' });
    expect(ctx.users.findById(alice.id)?.disabled).to.equal(false);
    ctx.accounts.disable('alice', 'test');
    expect(ctx.users.findById(alice.id)?.disabled).to.equal(true);
    ctx.accounts.enable('alice', 'test');
    expect(ctx.users.findById(alice.id)?.disabled).to.equal(false);

    const cli = createContext(testConfig(dir));
    try {
      cli.accounts.disable('alice', 'cli');
    } finally {
      cli.close();
    }
    expect(ctx.users.findById(alice.id)?.disabled).to.equal(true);
  });

  describe('administrator changes', () => {
    const codeOf = (fn: () => unknown): string => {
      try {
        fn();
        return 'none';
      } catch (err) {
        return (err as { code?: string }).code ?? 'unknown';
      }
    };

    it('never leaves the household without an enabled administrator', async () => {
      await ctx.accounts.create({ username: 'root', password: GOOD_PASSWORD, groups: ['admins'], by: 'test' });
      await ctx.accounts.create({ username: 'kid', password: GOOD_PASSWORD, groups: ['family'], by: 'test' });
      expect(codeOf(() => ctx.accounts.disable('root', 'test'))).to.equal('last-admin');
      expect(codeOf(() => ctx.accounts.delete('root', 'test'))).to.equal('last-admin');
      expect(codeOf(() => ctx.accounts.update('root', { groups: ['family'] }, 'test'))).to.equal('last-admin');
      expect(ctx.users.findByUsername('root')?.groups).to.deep.equal(['admins']);
      // With a second administrator the first may step down.
      ctx.accounts.update('kid', { groups: ['admins', 'family'] }, 'test');
      ctx.accounts.update('root', { groups: [] }, 'test');
      expect(ctx.users.findByUsername('root')?.groups).to.deep.equal([]);
      // A disabled administrator is not the one keeping the household managed.
      ctx.accounts.update('root', { groups: ['admins'] }, 'test');
      ctx.accounts.disable('root', 'test');
      ctx.accounts.update('root', { groups: [] }, 'test');
      expect(ctx.users.findByUsername('root')?.groups).to.deep.equal([]);
    });

    it('updates display name, email and groups, validating each, and audits what changed', async () => {
      await ctx.accounts.create({ username: 'zoe', password: GOOD_PASSWORD, by: 'test' });
      const updated = ctx.accounts.update('zoe', { displayName: ' Zoë ', email: 'zoe@home.example', groups: ['Family', 'media'] }, 'admin:root');
      expect(updated).to.deep.include({ displayName: 'Zoë', email: 'zoe@home.example', groups: ['family', 'media'] });
      expect(codeOf(() => ctx.accounts.update('zoe', { email: 'not an email' }, 'test'))).to.equal('invalid-email');
      expect(codeOf(() => ctx.accounts.update('zoe', { groups: ['bad group'] }, 'test'))).to.equal('invalid-groups');
      expect(codeOf(() => ctx.accounts.update('zoe', { displayName: 'x\u200By' }, 'test'))).to.equal('invalid-display-name');
      expect(codeOf(() => ctx.accounts.update('nobody', { displayName: 'x' }, 'test'))).to.equal('user-not-found');
      const event = recentAudit(ctx, 5, 'user-updated')[0];
      expect(event?.details).to.deep.include({ by: 'admin:root' });
      expect((event?.details.changes as Record<string, unknown>).groups).to.deep.equal({ from: [], to: ['family', 'media'] });
      // An empty display name falls back to the username.
      expect(ctx.accounts.update('zoe', { displayName: '  ' }, 'test').displayName).to.equal('zoe');
    });

    it('a reset password must be changed at the next sign-in; a chosen one need not', async () => {
      await ctx.accounts.create({ username: 'zoe', password: GOOD_PASSWORD, by: 'test' });
      await ctx.accounts.setPassword('zoe', 'a brand new family passphrase', 'admin:root', { reset: true });
      const reset = ctx.users.findByUsername('zoe');
      expect(reset?.mustChangePassword).to.equal(true);
      expect(passwordChangeRequired(reset as User, null, Date.now())).to.equal(true);
      expect(recentAudit(ctx, 1, 'password-reset')).to.have.length(1);
      await ctx.accounts.setPassword('zoe', 'my very own secret passphrase', 'user:zoe');
      expect(ctx.users.findByUsername('zoe')?.mustChangePassword).to.equal(false);
    });

    it('password.max_age forces a change once the password is older, and is off by default', () => {
      const user = { mustChangePassword: false, passwordChangedAt: 0 };
      expect(passwordChangeRequired(user, null, 10 * 365 * 86_400_000)).to.equal(false);
      expect(passwordChangeRequired(user, 86_400_000, 86_400_000 - 1)).to.equal(false);
      expect(passwordChangeRequired(user, 86_400_000, 86_400_000)).to.equal(true);
    });

    it('checks the current password without leaking why it failed', async () => {
      const zoe = await ctx.accounts.create({ username: 'zoe', password: GOOD_PASSWORD, by: 'test' });
      expect(await ctx.accounts.checkPassword(zoe.id, GOOD_PASSWORD)).to.equal(true);
      expect(await ctx.accounts.checkPassword(zoe.id, `${GOOD_PASSWORD} `)).to.equal(false);
      expect(await ctx.accounts.checkPassword(zoe.id, 'x'.repeat(5000))).to.equal(false);
      expect(await ctx.accounts.checkPassword(9999, GOOD_PASSWORD)).to.equal(false);
    });

    it('keeps a deletion request until an administrator acts on it', async () => {
      const zoe = await ctx.accounts.create({ username: 'zoe', password: GOOD_PASSWORD, by: 'test' });
      ctx.accounts.requestDeletion(zoe.id, '192.0.2.1');
      ctx.accounts.requestDeletion(zoe.id, '192.0.2.1'); // idempotent
      expect(ctx.accounts.deletionRequests().map((u) => u.username)).to.deep.equal(['zoe']);
      expect(recentAudit(ctx, 5, 'account-deletion-requested')).to.have.length(1);
      ctx.accounts.cancelDeletion(zoe.id, 'admin:root');
      expect(ctx.accounts.deletionRequests()).to.deep.equal([]);
    });

    it('deleting a user leaves only anonymous session tombstones and nameless audit entries', async () => {
      const zoe = await ctx.accounts.create({ username: 'zoe', password: GOOD_PASSWORD, by: 'test' });
      ctx.db
        .prepare(
          `INSERT INTO sessions (id_hash, user_id, data, bound_ip, user_agent, created_at, last_seen_at, idle_timeout_ms, idle_expires_at, absolute_expires_at)
           VALUES (?, ?, '{"passport":{"user":1}}', '192.0.2.7', 'Firefox', 0, 0, 1, ?, ?)`,
        )
        .run('a'.repeat(64), zoe.id, Date.now() + 3_600_000, Date.now() + 3_600_000);
      ctx.audit.loginSucceeded({ userId: zoe.id, username: 'zoe', ip: '192.0.2.7', session: 'aaaaaaaaaaaa', remember: false });
      ctx.accounts.delete('zoe', 'admin:root');
      const row = ctx.db.prepare('SELECT * FROM sessions').get() as Record<string, unknown>;
      expect(row).to.deep.include({ user_id: null, data: '{}', bound_ip: null, user_agent: null, delete_reason: 'user-deleted' });
      const names = ctx.db.prepare('SELECT DISTINCT username FROM audit_log WHERE user_id = ?').pluck().all(zoe.id);
      expect(names).to.deep.equal([null]);
    });
  });
});
