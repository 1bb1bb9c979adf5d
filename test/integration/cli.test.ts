// End-to-end tests of the `gatehouse` command: the real bin/gatehouse.js as a child process
// on a temporary data dir, including changes made while a running server holds the same
// database (and the sessions in its cache) open.

import { issue } from './../support/session-store.js';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import session, { type SessionData } from 'express-session';
import { createContext, type AppContext } from '../../src/context.js';
import { packageRoot } from '../../src/lib/paths.js';
import { handleOf, hashSessionId } from '../../src/sessions/store.js';
import type { SessionInfo } from '../../src/sessions/types.js';
import type { User } from '../../src/users/repository.js';
import { Browser } from '../support/browser.js';
import { buildOnce, gatehouse as runCli, initDataDir, type CliResult } from '../support/cli.js';
import { SoftAuthenticator } from '../support/webauthn.js';
import { addUser, GOOD_PASSWORD, startApp, tempDir, testConfig, type TestApp } from '../support/harness.js';
import { codeAt } from '../unit/twofactor/support.js';
import { recentAudit } from '../support/audit.js';


const NEW_PASSWORD = 'violet tugboat under the marmalade sky';
/** 14 characters and on the bundled list of common passwords. */
const WEAK_PASSWORD = 'iseedeadpeople';

/** Strings no command may ever print: passwords and raw session IDs (cookies) seen so far. */
const secrets = new Set<string>([GOOD_PASSWORD, NEW_PASSWORD, WEAK_PASSWORD]);

/** Runs the real command; fails the test if it prints a password or session ID seen so far. */
function gatehouse(dataDir: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return runCli(dataDir, args, { ...options, secrets });
}

const addWithCli = (dir: string, name: string, password = GOOD_PASSWORD, groups: string[] = []) =>
  gatehouse(dir, ['user', 'add', name, ...groups.flatMap((g) => ['--group', g]), '--password-stdin'], { input: `${password}\n` });

async function listUsers(dir: string): Promise<User[]> {
  const res = await gatehouse(dir, ['user', 'list', '--json']);
  expect(res.code, res.stderr).to.equal(0);
  return JSON.parse(res.stdout) as User[];
}

async function listSessions(dir: string, ...extra: string[]): Promise<SessionInfo[]> {
  const res = await gatehouse(dir, ['session', 'list', '--json', ...extra]);
  expect(res.code, res.stderr).to.equal(0);
  return JSON.parse(res.stdout) as SessionInfo[];
}

/** Opens a context on the same data dir (cheap argon2 for new hashes; any hash verifies). */
function openContext(dir: string): AppContext {
  return createContext(testConfig(dir));
}

/** The raw session ID inside a signed express-session cookie value (`s:<id>.<signature>`). */
function sessionIdOf(cookie: string): string {
  const decoded = decodeURIComponent(cookie);
  const match = /^s:(.+)\.[^.]+$/.exec(decoded);
  if (!match) throw new Error(`not a signed session cookie: ${cookie}`);
  return match[1] as string;
}

/** Two session IDs whose hashes (and so handles) share their first 6 hex characters. */
function collidingSessionIds(): [string, string] {
  const seen = new Map<string, string>();
  for (let i = 0; ; i++) {
    const sid = `cli-test-session-${i}`;
    const prefix = hashSessionId(sid).slice(0, 6);
    const other = seen.get(prefix);
    if (other !== undefined) return [other, sid];
    seen.set(prefix, sid);
  }
}

function storeSession(ctx: AppContext, sid: string, userId: number): Promise<void> {
  const data: SessionData = {
    cookie: new session.Cookie(),
    passport: { user: userId },
    auth: { at: ctx.clock.now(), ip: '127.0.0.1', userAgent: 'cli-test', remember: false },
  };
  return issue(ctx.sessions, sid, data);
}

describe('gatehouse CLI (real command in a child process)', function () {
  this.timeout(20_000);

  before(function () {
    this.timeout(180_000);
    buildOnce();
  });

  let dir: string;
  beforeEach(() => {
    dir = tempDir('gatehouse-cli-');
    initDataDir(dir); // as the server's first start leaves it: the CLI never creates a database
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('user add', () => {
    it('creates an administrator from a piped password, normalizing the username', async () => {
      const res = await addWithCli(dir, 'Alice', GOOD_PASSWORD, ['admins']);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout.trim()).to.equal('created user alice (groups: admins)');
      expect(res.stderr).to.equal('');
      const users = await listUsers(dir);
      expect(users.map((u) => [u.username, u.groups, u.disabled])).to.deep.equal([['alice', ['admins'], false]]);
    });

    it('refuses a second user with the same normalized name, also when written in fullwidth letters', async () => {
      expect((await addWithCli(dir, 'alice')).code).to.equal(0);
      for (const name of ['alice', 'ALICE', 'ａｌｉｃｅ']) {
        const res = await addWithCli(dir, name);
        expect(res.code, name).to.equal(1);
        expect(res.stderr).to.include('A user named "alice" already exists.');
        expect(res.stdout).to.equal('');
      }
      expect(await listUsers(dir)).to.have.length(1);
    });

    it('refuses a short common password with the policy message and creates nobody', async () => {
      const res = await addWithCli(dir, 'alice', WEAK_PASSWORD);
      expect(res.code).to.equal(1);
      expect(res.stderr).to.include('Use at least 15 characters');
      expect(res.stderr).to.include('on a list of commonly used passwords');
      expect(await listUsers(dir)).to.deep.equal([]);
    });

    it('refuses look-alike and invisible characters in a username', async () => {
      const dotless = await addWithCli(dir, 'adm\u0131n'); // dotless ı: would look like "admin"
      expect(dotless.code).to.equal(1);
      expect(dotless.stderr).to.include('Usernames are 1-64 characters');
      const zeroWidth = await addWithCli(dir, 'ad\u200Bmin');
      expect(zeroWidth.code).to.equal(1);
      expect(zeroWidth.stderr).to.include('control or invisible characters');
      expect(await listUsers(dir)).to.deep.equal([]);
    });

    it('without --password-stdin and without a terminal exits 2 and says to use --password-stdin', async () => {
      const res = await gatehouse(dir, ['user', 'add', 'alice'], { input: `${GOOD_PASSWORD}\n` });
      expect(res.code).to.equal(2);
      expect(res.stderr).to.match(/no terminal.*use --password-stdin/);
      expect(await listUsers(dir)).to.deep.equal([]);
    });
  });

  describe('user list', () => {
    it('exits quietly when its reader stops early (gatehouse … | head -1)', async () => {
      for (const name of ['alice', 'bob', 'carol']) await addWithCli(dir, name);
      const bin = join(packageRoot, 'bin', 'gatehouse.js');
      const child = spawnSync('sh', ['-c', `for i in 1 2 3 4 5 6 7 8; do "${process.execPath}" "${bin}" user list --json; done | head -c 1`], {
        env: { PATH: process.env.PATH ?? '', GATEHOUSE_DATA_DIR: dir },
        encoding: 'utf8',
      });
      expect(child.stderr, 'no EPIPE crash').not.to.match(/EPIPE|Unhandled/);
    });

    it('says there are no users yet on a fresh database', async () => {
      const res = await gatehouse(dir, ['user', 'list']);
      expect(res.code).to.equal(0);
      expect(res.stdout).to.include('no users yet');
    });

    it('prints an aligned table with one row per user', async () => {
      await addWithCli(dir, 'alice', GOOD_PASSWORD, ['admins']);
      await addWithCli(dir, 'bob');
      const res = await gatehouse(dir, ['user', 'list']);
      expect(res.code).to.equal(0);
      const [header, ...rows] = res.stdout.trimEnd().split('\n') as [string, ...string[]];
      expect(header.split(/\s+/)).to.deep.equal(['USERNAME', 'NAME', 'GROUPS', 'STATUS', 'LAST', 'LOGIN', '(UTC)']);
      expect(rows).to.have.length(2);
      const alice = rows.find((r) => r.startsWith('alice ')) as string;
      const bob = rows.find((r) => r.startsWith('bob ')) as string;
      expect(alice.split(/\s+/)).to.deep.equal(['alice', 'alice', 'admins', 'active', '-']);
      expect(bob.split(/\s+/)).to.deep.equal(['bob', 'bob', '-', 'active', '-']);
      expect(alice.indexOf('admins')).to.equal(header.indexOf('GROUPS'));
      expect(bob.indexOf('active')).to.equal(header.indexOf('STATUS'));
    });

    it('prints JSON that parses and holds no password hash', async () => {
      await addWithCli(dir, 'alice', GOOD_PASSWORD, ['admins']);
      const res = await gatehouse(dir, ['user', 'list', '--json']);
      const users = JSON.parse(res.stdout) as Array<Record<string, unknown>>;
      expect(users).to.have.length(1);
      expect(users[0]).to.include({ username: 'alice', displayName: 'alice', disabled: false });
      expect(res.stdout).not.to.match(/argon2|passwordHash|totp/i);
    });
  });

  describe('user passwd, disable, enable, delete', () => {
    it('passwd sets the new password: the old one no longer verifies', async () => {
      await addWithCli(dir, 'alice');
      const res = await gatehouse(dir, ['user', 'passwd', 'Alice', '--password-stdin'], { input: `${NEW_PASSWORD}\n` });
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout.trim()).to.equal('password changed; 0 session(s) ended');
      const ctx = openContext(dir);
      try {
        expect((await ctx.accounts.verifyCredentials('alice', GOOD_PASSWORD)).ok).to.equal(false);
        expect((await ctx.accounts.verifyCredentials('alice', NEW_PASSWORD)).ok).to.equal(true);
      } finally {
        ctx.close();
      }
    });

    it('passwd refuses a weak password and keeps the old one', async () => {
      await addWithCli(dir, 'alice');
      const res = await gatehouse(dir, ['user', 'passwd', 'alice', '--password-stdin'], { input: `${WEAK_PASSWORD}\n` });
      expect(res.code).to.equal(1);
      expect(res.stderr).to.include('Use at least 15 characters');
      const ctx = openContext(dir);
      try {
        expect((await ctx.accounts.verifyCredentials('alice', GOOD_PASSWORD)).ok).to.equal(true);
      } finally {
        ctx.close();
      }
    });

    it('disable stops sign-in and revokes API tokens, enable restores sign-in (not the tokens), delete removes the user', async () => {
      await addWithCli(dir, 'alice');
      await addWithCli(dir, 'bob');
      const before = openContext(dir);
      const alice = before.accounts.require('alice');
      const { token } = before.tokens.create({ userId: alice.id, username: 'alice', name: 'script', scope: 'read', lifetimeMs: 86_400_000, by: 'test' });
      before.close();
      const disabled = await gatehouse(dir, ['user', 'disable', 'alice']);
      expect(disabled.code, disabled.stderr).to.equal(0);
      expect(disabled.stdout.trim()).to.equal('disabled alice; 0 session(s) ended, 1 API token(s) revoked');
      expect((await listUsers(dir)).find((u) => u.username === 'alice')?.disabled).to.equal(true);
      expect((await gatehouse(dir, ['user', 'list'])).stdout).to.match(/^alice\s+alice\s+-\s+disabled/m);
      const ctx = openContext(dir);
      try {
        expect(await ctx.accounts.verifyCredentials('alice', GOOD_PASSWORD)).to.include({ ok: false, reason: 'user-disabled' });
        const enabled = await gatehouse(dir, ['user', 'enable', 'alice']);
        expect(enabled.code).to.equal(0);
        expect(enabled.stdout.trim()).to.equal('enabled alice');
        expect((await ctx.accounts.verifyCredentials('alice', GOOD_PASSWORD)).ok).to.equal(true);
        expect(ctx.tokens.authenticate(token, '127.0.0.1')).to.equal(null);
      } finally {
        ctx.close();
      }
      const deleted = await gatehouse(dir, ['user', 'delete', 'alice']);
      expect(deleted.code).to.equal(0);
      expect(deleted.stdout.trim()).to.equal('deleted alice; 0 session(s) ended');
      expect((await listUsers(dir)).map((u) => u.username)).to.deep.equal(['bob']);
    });

    it('passwd --must-change sets a temporary password the user must replace at the next sign-in', async () => {
      await addWithCli(dir, 'alice');
      const res = await gatehouse(dir, ['user', 'passwd', 'alice', '--must-change', '--password-stdin'], { input: `${NEW_PASSWORD}\n` });
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout).to.include('must be chosen at the next sign-in');
      expect((await listUsers(dir)).find((u) => u.username === 'alice')?.mustChangePassword).to.equal(true);
      expect((await gatehouse(dir, ['user', 'list'])).stdout).to.match(/^alice\s+alice\s+-\s+active, must change password/m);
    });

    it('reset-2fa removes the authenticator app, passkeys and recovery codes and ends the sessions (audited); passwd then needs 15 characters again', async () => {
      await addWithCli(dir, 'alice');
      const ctx = openContext(dir);
      try {
        const alice = ctx.accounts.require('alice');
        const { secret } = await ctx.twoFactor.totp.begin(alice);
        secrets.add(secret);
        expect(ctx.twoFactor.totp.confirm(alice, codeAt(secret, Date.now())).ok).to.equal(true);
        for (const code of ctx.twoFactor.recoveryCodes.generate(alice, 'test')) secrets.add(code);
        const rp = { rpID: 'localhost', origin: 'http://localhost' };
        const options = await ctx.twoFactor.passkeys.registrationOptions(alice, rp);
        expect(await ctx.twoFactor.passkeys.register(alice, new SoftAuthenticator().create(options as never, rp.origin) as never, options.challenge, rp, 'key', null)).to.not.equal(null);
        // With a second factor, 9 characters are enough (NIST SP 800-63B-4).
        const nine = await gatehouse(dir, ['user', 'passwd', 'alice', '--password-stdin'], { input: 'mauve fjq\n' });
        expect(nine.code, nine.stderr).to.equal(0);
        await storeSession(ctx, 'cli-test-reset-2fa', alice.id);

        const res = await gatehouse(dir, ['user', 'reset-2fa', 'Alice']);
        expect(res.code, res.stderr).to.equal(0);
        expect(res.stdout.trim()).to.equal('reset alice: removed authenticator app, 1 passkey(s) and 10 recovery code(s); 1 session(s) ended; the password alone now signs in');
        expect(ctx.twoFactor.status(alice.id)).to.include({ enabled: false, totp: 'none', recoveryCodesRemaining: 0 });
        expect(ctx.twoFactor.status(alice.id).passkeys).to.have.length(0);
        expect(ctx.sessions.lookup('cli-test-reset-2fa')).to.equal(null);
        const event = recentAudit(ctx, 10).find((e) => e.event === 'second-factor-reset');
        expect(event?.details.by).to.match(/^cli:/);
        expect(event?.details).to.include({ totp: true, passkeys: 1, recovery_codes: 10, sessions_revoked: 1 });

        const again = await gatehouse(dir, ['user', 'reset-2fa', 'alice']);
        expect(again.code).to.equal(0);
        expect(again.stdout.trim()).to.equal('alice had no second factor; nothing removed; 0 session(s) ended');
        const short = await gatehouse(dir, ['user', 'passwd', 'alice', '--password-stdin'], { input: 'quiet mauve fj\n' });
        expect(short.code).to.equal(1);
        expect(short.stderr).to.include('Use at least 15 characters');

        const ghost = await gatehouse(dir, ['user', 'reset-2fa', 'ghost']);
        expect(ghost.code).to.equal(1);
        expect(ghost.stderr).to.include('No user named "ghost"');
      } finally {
        ctx.close();
      }
    });

    it('edit changes name, email and groups, and validates them', async () => {
      await addWithCli(dir, 'alice', GOOD_PASSWORD, ['admins']);
      await addWithCli(dir, 'bob');
      const res = await gatehouse(dir, ['user', 'edit', 'bob', '--display-name', 'Bob B.', '--email', 'bob@home.example', '--group', 'family', '--group', 'media']);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout.trim()).to.equal('updated bob: name "Bob B.", email bob@home.example, groups family,media');
      const bad = await gatehouse(dir, ['user', 'edit', 'bob', '--group', 'no spaces']);
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.include('invalid group name');
      expect((await gatehouse(dir, ['user', 'edit', 'bob'])).code).to.equal(2);
      expect((await listUsers(dir)).find((u) => u.username === 'bob')?.groups).to.deep.equal(['family', 'media']);
    });

    it('refuses to disable, delete or demote the last enabled administrator', async () => {
      await addWithCli(dir, 'alice', GOOD_PASSWORD, ['admins']);
      for (const args of [['user', 'disable', 'alice'], ['user', 'delete', 'alice'], ['user', 'edit', 'alice', '--no-groups']]) {
        const res = await gatehouse(dir, args);
        expect(res.code, args.join(' ')).to.equal(1);
        expect(res.stderr, args.join(' ')).to.include('only enabled administrator');
      }
      expect((await listUsers(dir)).map((u) => [u.username, u.groups, u.disabled])).to.deep.equal([['alice', ['admins'], false]]);
    });

    it('answers exit 1 "No user named" for an unknown user in every user and session command', async () => {
      await addWithCli(dir, 'alice');
      const commands = [
        ['user', 'passwd', 'ghost', '--password-stdin'],
        ['user', 'disable', 'ghost'],
        ['user', 'enable', 'ghost'],
        ['user', 'delete', 'ghost'],
        ['session', 'list', '--user', 'ghost'],
      ];
      for (const args of commands) {
        const res = await gatehouse(dir, args, { input: `${NEW_PASSWORD}\n` });
        expect(res.code, args.join(' ')).to.equal(1);
        expect(res.stderr, args.join(' ')).to.include('No user named "ghost"');
      }
    });
  });

  describe('session list and session revoke', () => {
    let alice: User;
    let sidA1: string;
    let sidA2: string;
    const sidB = 'cli-test-session-bob';
    const sidEnded = 'cli-test-session-bob-ended';
    const handle = (sid: string) => handleOf(hashSessionId(sid));

    beforeEach(async () => {
      [sidA1, sidA2] = collidingSessionIds();
      for (const sid of [sidA1, sidA2, sidB, sidEnded]) secrets.add(sid);
      const ctx = openContext(dir);
      try {
        alice = await addUser(ctx, 'alice');
        const bob = await addUser(ctx, 'bob');
        await storeSession(ctx, sidA1, alice.id);
        await storeSession(ctx, sidA2, alice.id);
        await storeSession(ctx, sidB, bob.id);
        await storeSession(ctx, sidEnded, bob.id);
        ctx.sessions.revoke(sidEnded, 'logout');
      } finally {
        ctx.close();
      }
    });

    it('lists live sessions by handle and user, never by ID', async () => {
      const res = await gatehouse(dir, ['session', 'list']);
      expect(res.code, res.stderr).to.equal(0);
      const [header, ...rows] = res.stdout.trimEnd().split('\n') as [string, ...string[]];
      expect(header).to.match(/^ID\s+USER\s+IP\s+CREATED \(UTC\)\s+LAST SEEN \(UTC\)\s+ENDS \(UTC\)\s+STATE$/);
      expect(rows.map((r) => r.split(/\s+/).slice(0, 3).join(' ')).sort()).to.deep.equal(
        [`${handle(sidA1)} alice 127.0.0.1`, `${handle(sidA2)} alice 127.0.0.1`, `${handle(sidB)} bob 127.0.0.1`].sort(),
      );
      expect(rows.every((r) => r.endsWith('live'))).to.equal(true);
      expect(res.stdout).not.to.include(handle(sidEnded));
    });

    it('--user limits the list to one user, --all adds ended sessions with the reason, --json parses', async () => {
      const mine = await listSessions(dir, '--user', 'ALICE');
      expect(mine.map((s) => s.handle).sort()).to.deep.equal([handle(sidA1), handle(sidA2)].sort());
      expect(mine.every((s) => s.username === 'alice' && s.userId === alice.id && s.deletedAt === null)).to.equal(true);

      const all = await listSessions(dir, '--all');
      expect(all).to.have.length(4);
      expect(all.find((s) => s.handle === handle(sidEnded))).to.include({ username: 'bob', deleteReason: 'logout' });

      const table = await gatehouse(dir, ['session', 'list', '--all', '--user', 'bob']);
      expect(table.stdout).to.match(new RegExp(`^${handle(sidEnded)}\\s+bob\\b.*ended: logout$`, 'm'));
      expect(table.stdout).to.match(new RegExp(`^${handle(sidB)}\\s+bob\\b.*live$`, 'm'));
    });

    it('revoke refuses a prefix that is not 6-64 hexadecimal characters with exit 2', async () => {
      for (const prefix of ['zz', handle(sidB).slice(0, 5), 'xyz123', `${handle(sidB)}-`]) {
        const res = await gatehouse(dir, ['session', 'revoke', prefix]);
        expect(res.code, prefix).to.equal(2);
        expect(res.stderr).to.include('6 to 64 hexadecimal characters');
      }
      expect(await listSessions(dir)).to.have.length(3);
    });

    it('revoke reports a prefix that names no live session with exit 1', async () => {
      const taken = new Set([sidA1, sidA2, sidB, sidEnded].map((s) => handle(s).slice(0, 6)));
      const unknown = ['000000', '111111', 'ffffff'].find((p) => !taken.has(p)) as string;
      for (const prefix of [unknown, handle(sidEnded)]) {
        const res = await gatehouse(dir, ['session', 'revoke', prefix]);
        expect(res.code, prefix).to.equal(1);
        expect(res.stderr).to.include(`no live session starts with ${prefix}`);
      }
      expect(await listSessions(dir)).to.have.length(3);
    });

    it('revoke refuses an ambiguous prefix (exit 2, nothing ended) and ends the one session a longer prefix names', async () => {
      const shared = handle(sidA1).slice(0, 6);
      expect(handle(sidA2).slice(0, 6)).to.equal(shared);
      const ambiguous = await gatehouse(dir, ['session', 'revoke', shared]);
      expect(ambiguous.code).to.equal(2);
      expect(ambiguous.stderr).to.include('matches more than one session');
      expect(await listSessions(dir)).to.have.length(3);

      const res = await gatehouse(dir, ['session', 'revoke', handle(sidA1).toUpperCase()]);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout.trim()).to.equal(`ended session ${handle(sidA1)} of alice`);
      const all = await listSessions(dir, '--all');
      expect(all.find((s) => s.handle === handle(sidA1))).to.include({ deleteReason: 'revoked' });
      expect(all.find((s) => s.handle === handle(sidA2))).to.include({ deletedAt: null });
    });
  });

  describe('setup-link', () => {
    it('prints a single-use /setup?token= link while no user exists and refuses once one does', async () => {
      const first = await gatehouse(dir, ['setup-link']);
      expect(first.code, first.stderr).to.equal(0);
      const [link, validity] = first.stdout.trimEnd().split('\n');
      const match = /^http:\/\/127\.0\.0\.1:8480\/setup\?token=([A-Za-z0-9_-]{20,100})$/.exec(link ?? '');
      expect(match, link).to.not.equal(null);
      expect(validity).to.match(/^valid until \d{4}-\d\d-\d\d \d\d:\d\d UTC, once/);

      const second = await gatehouse(dir, ['setup-link']);
      const token2 = /token=(\S+)/.exec(second.stdout)?.[1] as string;
      const ctx = openContext(dir);
      try {
        expect(ctx.setup.check(match?.[1] as string)).to.equal('invalid'); // a new link replaces the old one
        expect(ctx.setup.check(token2)).to.equal('valid');
      } finally {
        ctx.close();
      }

      await addWithCli(dir, 'alice', GOOD_PASSWORD, ['admins']);
      const after = await gatehouse(dir, ['setup-link']);
      expect(after.code).to.equal(1);
      expect(after.stderr).to.include('setup is complete');
      expect(after.stdout).to.equal('');
    });
  });

  describe('configuration errors', () => {
    it('GATEHOUSE_PORT=abc exits 2 naming server.port', async () => {
      const res = await gatehouse(dir, ['user', 'list'], { env: { GATEHOUSE_PORT: 'abc' } });
      expect(res.code).to.equal(2);
      expect(res.stderr).to.include('server.port');
      expect(res.stderr).to.include('"abc"');
      expect(res.stderr).not.to.match(/\bat .+\.js:\d+/); // a message, not a stack trace
    });

    it('a config file with two bad keys reports both problems in one run, via --config and via GATEHOUSE_CONFIG', async () => {
      const file = join(dir, 'gatehouse.yml');
      writeFileSync(file, 'server:\n  port: 70000\nsesion:\n  inactivity: 1h\n');
      const viaFlag = await gatehouse(dir, ['--config', file, 'user', 'list']);
      const viaEnv = await gatehouse(dir, ['user', 'list'], { env: { GATEHOUSE_CONFIG: file } });
      for (const res of [viaFlag, viaEnv]) {
        expect(res.code).to.equal(2);
        expect(res.stderr).to.include(file);
        expect(res.stderr).to.match(/^\s+- server\.port: /m);
        expect(res.stderr).to.match(/^\s+- sesion: unknown key/m);
        expect(res.stdout).to.equal('');
      }
    });
  });

  describe('against a running server on the same data dir', () => {
    let app: TestApp;
    beforeEach(async () => {
      app = await startApp({ dataDir: dir });
    });
    afterEach(() => app.close({ remove: false }));

    /** Signs `name` in through the login form and proves the session works (and is cached). */
    async function signIn(name: string, password = GOOD_PASSWORD): Promise<{ browser: Browser; sid: string }> {
      const browser = new Browser(app.url);
      const login = await browser.login(name, password);
      expect(login.status, login.text).to.equal(303);
      const cookie = browser.cookies.get('gatehouse') as string;
      const sid = sessionIdOf(cookie);
      secrets.add(cookie).add(decodeURIComponent(cookie)).add(sid);
      expect((await browser.get('/')).status).to.equal(200);
      return { browser, sid };
    }

    async function expectSignedOut(browser: Browser): Promise<void> {
      const res = await browser.get('/');
      expect(res.status).to.equal(303);
      expect(res.location).to.equal('/login');
    }

    it('user disable ends a session the server holds in its cache: the next request goes to /login, and enable does not revive it', async () => {
      await addUser(app.ctx, 'alice');
      const { browser, sid } = await signIn('alice');
      const res = await gatehouse(dir, ['user', 'disable', 'alice']);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout.trim()).to.equal('disabled alice; 1 session(s) ended, 0 API token(s) revoked');
      // The server's store itself must stop serving it, not only passport's user reload.
      expect(app.ctx.sessions.lookup(sid)).to.equal(null);
      await expectSignedOut(browser);

      expect((await gatehouse(dir, ['user', 'enable', 'alice'])).code).to.equal(0);
      await expectSignedOut(browser);
      const ended = (await listSessions(dir, '--all', '--user', 'alice')).find((s) => s.handle === handleOf(hashSessionId(sid)));
      expect(ended).to.include({ deleteReason: 'user-disabled' });
    });

    it('session revoke with a handle from "session list --json" ends that live session in the server, not the others', async () => {
      await addUser(app.ctx, 'alice');
      const first = await signIn('alice');
      const second = await signIn('alice');
      const listed = await listSessions(dir, '--user', 'alice');
      const mine = handleOf(hashSessionId(first.sid));
      expect(listed.map((s) => s.handle)).to.include(mine).and.have.length(2);

      const res = await gatehouse(dir, ['session', 'revoke', mine.slice(0, 8)]);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout.trim()).to.equal(`ended session ${mine} of alice`);
      await expectSignedOut(first.browser);
      expect((await second.browser.get('/')).status).to.equal(200);
    });

    it('user passwd ends all of the user\'s sessions in the server; only the new password signs in', async () => {
      await addUser(app.ctx, 'alice');
      await addUser(app.ctx, 'bob');
      const alice1 = await signIn('alice');
      const alice2 = await signIn('alice');
      const bob = await signIn('bob');

      const res = await gatehouse(dir, ['user', 'passwd', 'alice', '--password-stdin'], { input: `${NEW_PASSWORD}\n` });
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout.trim()).to.equal('password changed; 2 session(s) ended');
      await expectSignedOut(alice1.browser);
      await expectSignedOut(alice2.browser);
      expect((await bob.browser.get('/')).status).to.equal(200);

      expect((await new Browser(app.url).login('alice', GOOD_PASSWORD)).status).to.equal(401);
      await signIn('alice', NEW_PASSWORD);
    });
  });
});
