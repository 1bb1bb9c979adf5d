// What session succession rests on, found by the hostile review of issue 11 and guarded
// here, through createApp() over real HTTP:
// 1. Confirming the password without a new ID (the deletion request, page and API) does not
//    make that ID "recent": a copy of the cookie must not share the owner's confirmation.
// 2. The argon2 upgrade at sign-in replaces only the hash it verified: a password change
//    committed meanwhile is not undone.
// 3. A sign-in checked while the user is deleted answers 401, not 500.
// 4. The hash and the epoch are read in one snapshot: a password change committed by another
//    process between them still refuses the old password.
// 5. A re-authentication sent twice (double click) leaves the user signed in: the loser sets
//    no cookie.

import { expect } from 'chai';
import { PasswordHasher } from '../../../src/passwords/hasher.js';
import type { AppContext } from '../../../src/context.js';
import { Browser } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc } from '../../support/openapi.js';

const NEW_PASSWORD = 'violet submarine orbits quietly';
const MINUTE = 60_000;

/** Holds the next call of `method` on `target` after it resolved, until released. */
function holdNext<T extends object, K extends keyof T>(target: T, method: K): { reached: Promise<void>; release: () => void } {
  const original = (target[method] as unknown as (...args: unknown[]) => Promise<unknown>).bind(target);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let markReached!: () => void;
  const reached = new Promise<void>((resolve) => (markReached = resolve));
  (target as Record<K, unknown>)[method] = async (...args: unknown[]) => {
    (target as Record<K, unknown>)[method] = original;
    const result = await original(...args);
    markReached();
    await gate;
    return result;
  };
  return { reached, release };
}

function copyOf(victim: Browser, userAgent: string): Browser {
  const b = new Browser(victim.baseUrl, { 'user-agent': userAgent });
  for (const [name, value] of victim.cookies) b.cookies.set(name, value);
  return b;
}

describe('session succession: the checks it rests on (hostile review)', () => {
  let app: TestApp;
  let clock: FakeClock;
  let ctx: AppContext;

  beforeEach(async () => {
    clock = new FakeClock();
    app = await startApp({ config: { rate_limit: { max: 100_000 } }, clock });
    ctx = app.ctx;
    await addUser(ctx, 'alice');
  });
  afterEach(() => app.close());

  async function signedIn(userAgent: string): Promise<Browser> {
    const b = new Browser(app.url, { 'user-agent': userAgent });
    expect((await b.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    return b;
  }

  it("1a. the owner's password confirmation for a deletion request does not make a copied cookie 'recent' (page)", async () => {
    const owner = await signedIn('owner');
    const thief = copyOf(owner, 'owner'); // same address and browser: the binding admits it
    clock.advance(11 * MINUTE); // the sign-in is no longer recent
    const token = await owner.csrf('/account');
    expect((await owner.post('/account/delete-request', { _csrf: token, current_password: GOOD_PASSWORD })).status).to.equal(303);
    // The thief never typed the password. Expected: asked for it, no token minted.
    const mint = await thief.post('/account/tokens', { _csrf: await thief.csrf('/account'), name: 'exfil', scope: 'write', expires_in_days: '366' });
    expect(ctx.tokens.list(ctx.users.findByUsername('alice')!.id), 'API tokens minted by the copy').to.have.length(0);
    expect(mint.status).to.equal(403);
    expect(mint.text).to.contain('name="_reauth_password"');
  });

  it("1b. the same through the API: POST /api/v1/me/deletion-request, then the copy's POST /api/v1/me/tokens", async () => {
    const owner = await signedIn('owner');
    const thief = copyOf(owner, 'owner');
    clock.advance(11 * MINUTE);
    const doc = await ApiDoc.fetch(app.url);
    const api = new Api(doc, owner);
    await api.csrf();
    expect((await api.post('/api/v1/me/deletion-request', { password: GOOD_PASSWORD })).status).to.equal(200);
    const stolen = new Api(doc, thief);
    await stolen.csrf();
    const mint = await stolen.post('/api/v1/me/tokens', { name: 'exfil', scope: 'write', expires_in_days: 366 });
    expect(mint.status, 'expected 403 reauth-required').to.equal(403);
  });

  it('2. a sign-in that upgrades an old argon2 hash does not undo a password change made meanwhile', async () => {
    // A hash made with weaker parameters than configured (as after raising password.argon2).
    const weak = new PasswordHasher({ memoryKib: 256, iterations: 1, parallelism: 1 });
    const alice = ctx.users.findByUsername('alice')!;
    ctx.users.setPasswordHash(alice.id, await weak.hash(GOOD_PASSWORD), clock.now(), { changed: true });
    // The attacker knows the old password; their sign-in is held while argon2 re-hashes it.
    const held = holdNext(ctx.hasher, 'hash');
    const attacker = new Browser(app.url, { 'user-agent': 'attacker' });
    const attempt = attacker.login('alice', GOOD_PASSWORD);
    await held.reached;
    // Meanwhile the owner changes the password (here from the CLI's code path).
    await ctx.accounts.setPassword('alice', NEW_PASSWORD, 'user:alice');
    held.release();
    expect((await attempt).status, 'the held sign-in itself is refused').to.equal(401);
    // Expected: the new password holds, the old one is dead.
    expect(await ctx.accounts.checkPassword(alice.id, NEW_PASSWORD), 'the new password works').to.equal(true);
    expect((await new Browser(app.url).login('alice', GOOD_PASSWORD)).status, 'the old password signs in again').to.equal(401);
  });

  it('3. a sign-in checked while an administrator deletes the user answers 401, not 500', async () => {
    await addUser(ctx, 'bob');
    const held = holdNext(ctx.hasher, 'verify');
    const bob = new Browser(app.url, { 'user-agent': 'bob' });
    const attempt = bob.login('bob', GOOD_PASSWORD);
    await held.reached;
    ctx.accounts.delete('bob', 'admin:test');
    held.release();
    const res = await attempt;
    expect(res.status, res.text.slice(0, 200)).to.be.oneOf([401, 403]);
  });

  it('4. a password change committed by another process between the hash read and the epoch read refuses the old password', async () => {
    const { createContext } = await import('../../../src/context.js');
    const cli = createContext(ctx.config, { changePollMs: 0, clock });
    try {
      const alice = ctx.users.findByUsername('alice')!;
      const newHash = await ctx.hasher.hash(NEW_PASSWORD);
      // The CLI's `user passwd` commits right after the sign-in read the (old) hash.
      const original = ctx.users.findCredentials.bind(ctx.users);
      ctx.users.findCredentials = (name: string) => {
        ctx.users.findCredentials = original;
        const found = original(name);
        cli.db.transaction(() => {
          cli.users.setPasswordHash(alice.id, newHash, clock.now(), { changed: true });
          cli.sessions.revokeUserSessions(alice.id, 'password-changed', { by: 'cli' });
        })();
        return found;
      };
      const attacker = new Browser(app.url, { 'user-agent': 'attacker' });
      const res = await attacker.login('alice', GOOD_PASSWORD);
      expect(res.status, 'a sign-in with the password that was just replaced').to.equal(401);
    } finally {
      cli.close();
    }
  });

  it('5. a re-authentication sent twice (double click) leaves the user signed in', async () => {
    const owner = await signedIn('owner');
    const token = await owner.csrf('/reauth');
    const form = { _csrf: token, password: GOOD_PASSWORD, rd: '/account' };
    const [first, second] = await Promise.all([owner.post('/reauth', form), owner.post('/reauth', form)]);
    expect([first.status, second.status].sort()).to.deep.equal([303, 401]);
    expect((await owner.get('/account')).status, 'the browser after both answers').to.equal(200);
  });
});
