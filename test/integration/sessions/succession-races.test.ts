// An ID renewal or sign-in in flight must not outlive the end of the session it rests on
// (issue 11 item 1). Real concurrency through createApp(): the attacker's request (a stolen
// cookie plus the password) is held just after its argon2 check, while the owner ends the
// session, changes the password, signs out everywhere else, an administrator or the CLI
// revokes or disables; then the held request finishes. It must be answered as signed out,
// and nothing it carried may open gatehouse or forward auth afterwards.

import { expect } from 'chai';
import type { AppContext } from '../../../src/context.js';
import { hashSessionId } from '../../../src/sessions/store.js';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc } from '../../support/openapi.js';

const NEW_PASSWORD = 'violet submarine orbits quietly';
const FORWARD_CONFIG = {
  rate_limit: { max: 100_000 },
  portal_url: 'https://auth.home.test',
  access_control: { default_policy: 'deny', rules: [{ domain: 'app.home.test', policy: 'one_factor' }] },
};

/** Holds the next password verification (after argon2 ran) until released. */
function holdNextVerify(ctx: AppContext): { reached: Promise<void>; release: () => void } {
  const original = ctx.hasher.verify.bind(ctx.hasher);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let markReached!: () => void;
  const reached = new Promise<void>((resolve) => (markReached = resolve));
  ctx.hasher.verify = async (...args: Parameters<typeof original>) => {
    ctx.hasher.verify = original;
    const result = await original(...args);
    markReached();
    await gate;
    return result;
  };
  return { reached, release };
}

describe('session succession under races (no successor for an ended session)', () => {
  let app: TestApp;
  let doc: ApiDoc;
  let aliceId: number;

  beforeEach(async () => {
    app = await startApp({ config: FORWARD_CONFIG });
    aliceId = (await addUser(app.ctx, 'alice')).id;
    doc = await ApiDoc.fetch(app.url);
  });
  afterEach(() => app.close());

  async function signIn(userAgent: string): Promise<Browser> {
    const b = new Browser(app.url, { 'user-agent': userAgent });
    expect((await b.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    return b;
  }

  /** A copy of every cookie of `victim`: what a thief holds. */
  function steal(victim: Browser): Browser {
    const thief = new Browser(app.url, { 'user-agent': 'thief' });
    for (const [name, value] of victim.cookies) thief.cookies.set(name, value);
    return thief;
  }

  const liveSessions = () => app.ctx.sessions.list({ userId: aliceId }).length;
  // Plain HTTP throughout (no proxy): the original request is http too, so the plain
  // forward-auth cookie is the one read.
  const forwardAuth = (b: Browser) => b.get('/auth/verify', { 'x-original-url': 'http://app.home.test/', 'x-original-method': 'GET' });

  /** Nothing the browser holds opens gatehouse's API, its pages or forward auth. */
  async function expectSignedOut(b: Browser, label: string): Promise<void> {
    expect((await b.get('/api/v1/me')).status, `${label}: API`).to.equal(401);
    expect((await b.get('/account')).status, `${label}: /account`).to.equal(303);
    expect((await forwardAuth(b)).status, `${label}: forward auth`).to.equal(401);
  }

  /**
   * The thief loops POST /api/v1/me/reauth with the password (known to them); `end` runs
   * while the first attempt is held after its password check.
   */
  async function reauthRace(thief: Browser, end: () => Promise<void>): Promise<number> {
    expect((await forwardAuth(thief)).status, 'the stolen cookies work before').to.equal(200);
    const api = new Api(doc, thief);
    await api.csrf();
    const held = holdNextVerify(app.ctx);
    const pending = api.post('/api/v1/me/reauth', { password: GOOD_PASSWORD });
    await held.reached;
    await end();
    held.release();
    return (await pending).status;
  }

  it('logout of the session: the renewal in flight is refused (401) and issues no ID', async () => {
    const owner = await signIn('owner');
    const thief = steal(owner);
    const status = await reauthRace(thief, async () => {
      expect((await owner.post('/logout', { _csrf: await owner.csrf('/account') })).status).to.equal(303);
    });
    expect(status).to.equal(401);
    expect(liveSessions()).to.equal(0);
    await expectSignedOut(thief, 'thief');
  });

  it("the owner's password change on another device: the thief's renewal is refused", async () => {
    const owner = await signIn('owner');
    const thief = steal(await signIn('stolen device'));
    const status = await reauthRace(thief, async () => {
      const token = await owner.csrf('/account/password');
      expect((await owner.post('/account/password', { _csrf: token, current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD, new_password_confirm: NEW_PASSWORD })).status).to.equal(303);
    });
    expect(status).to.equal(401);
    expect(liveSessions(), 'only the owner’s renewed session').to.equal(1);
    await expectSignedOut(thief, 'thief');
    expect((await owner.get('/account')).status).to.equal(200);
  });

  it('"sign out everywhere else": the renewal in flight on another session is refused', async () => {
    const owner = await signIn('owner');
    const thief = steal(await signIn('stolen device'));
    const status = await reauthRace(thief, async () => {
      const token = await owner.csrf('/account');
      expect((await owner.post('/account/sessions/revoke-others', { _csrf: token })).status).to.equal(303);
    });
    expect(status).to.equal(401);
    expect(liveSessions()).to.equal(1);
    await expectSignedOut(thief, 'thief');
    expect((await owner.get('/account')).status).to.equal(200);
  });

  it('the CLI revoking the session from another process: the renewal in flight is refused', async () => {
    await signIn('owner');
    const victim = await signIn('stolen device');
    const thief = steal(victim);
    const handle = app.ctx.sessions.list({ userId: aliceId }).find((s) => s.userAgent === 'stolen device')?.handle as string;
    const status = await reauthRace(thief, async () => {
      const { createContext } = await import('../../../src/context.js');
      const cli = createContext(app.ctx.config, { changePollMs: 0 });
      try {
        expect(cli.sessions.revokeByHandle(handle, 'revoked', 'cli')).to.not.equal(null);
      } finally {
        cli.close();
      }
    });
    expect(status).to.equal(401);
    expect(liveSessions()).to.equal(1);
    await expectSignedOut(thief, 'thief');
  });

  it('an administrator disabling the user: the renewal in flight is refused, also after re-enabling', async () => {
    const thief = steal(await signIn('stolen device'));
    const status = await reauthRace(thief, async () => {
      app.ctx.accounts.disable('alice', 'admin:test');
    });
    expect(status).to.equal(401);
    app.ctx.accounts.enable('alice', 'admin:test');
    expect(liveSessions()).to.equal(0);
    await expectSignedOut(thief, 'thief');
  });

  it('the password change itself (on the same session) leaves the thief a dead cookie, whichever request wins', async () => {
    const owner = await signIn('owner');
    const thief = steal(owner);
    const status = await reauthRace(thief, async () => {
      const token = await owner.csrf('/account/password');
      expect((await owner.post('/account/password', { _csrf: token, current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD, new_password_confirm: NEW_PASSWORD })).status).to.equal(303);
    });
    expect(status).to.equal(401);
    await expectSignedOut(thief, 'thief');
    expect((await owner.get('/account')).status).to.equal(200);
    expect(liveSessions()).to.equal(1);
  });

  it('a sign-in with the old password that is checked while the password changes gets no session', async () => {
    const owner = await signIn('owner');
    const attacker = new Browser(app.url, { 'user-agent': 'attacker' });
    const held = holdNextVerify(app.ctx);
    const pending = attacker.login('alice', GOOD_PASSWORD);
    await held.reached;
    await app.ctx.accounts.setPassword('alice', NEW_PASSWORD, 'user:alice', { keepSid: sidOf(owner) });
    held.release();
    expect((await pending).status).to.equal(401);
    await expectSignedOut(attacker, 'attacker');
    expect(liveSessions(), 'only the owner').to.equal(1);
  });

  /** The raw session ID in a browser's portal cookie (plain HTTP: `gatehouse=s:<id>.<sig>`). */
  function sidOf(b: Browser): string {
    const value = decodeURIComponent(b.cookies.get('gatehouse') as string);
    const sid = value.slice(2, value.lastIndexOf('.'));
    expect(app.ctx.sessions.lookupHash(hashSessionId(sid)), 'a live session').to.not.equal(null);
    return sid;
  }
});
