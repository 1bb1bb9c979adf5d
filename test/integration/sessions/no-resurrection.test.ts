// A request that loaded the session before logout and saves it afterwards must not bring
// it back (expressjs/session#632). Driven through the real app with two "tabs": the store
// holds back one request's session load until the other tab has signed out.

import type { SessionData } from 'express-session';
import { expect } from 'chai';
import { ExpressSessionStore } from '../../../src/sessions/express-store.js';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

/** The real Store adapter; `holdNextGet` delays the answer (not the read) of the next get. */
class HeldStore extends ExpressSessionStore {
  private hold: Promise<void> | null = null;
  loaded: Promise<void> = Promise.resolve();

  holdNextGet(): () => void {
    let release!: () => void;
    this.hold = new Promise((resolve) => (release = resolve));
    let markLoaded!: () => void;
    this.loaded = new Promise((resolve) => (markLoaded = resolve));
    this.onLoaded = markLoaded;
    return release;
  }
  private onLoaded: () => void = () => {};

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    const hold = this.hold;
    if (!hold) return super.get(sid, callback);
    this.hold = null;
    super.get(sid, (err, sess) => {
      this.onLoaded();
      void hold.then(() => callback(err, sess));
    });
  }
}

describe('no resurrection through the app', () => {
  let app: TestApp;
  let store: HeldStore;
  beforeEach(async () => {
    app = await startApp({
      sessionStore: (sessions) => (store = new HeldStore(sessions)),
    });
    await addUser(app.ctx, 'alice');
  });
  afterEach(() => app.close());

  it('a slow request that saves after logout does not revive the session', async () => {
    const tab1 = new Browser(app.url);
    expect((await tab1.login('alice', GOOD_PASSWORD)).status).to.equal(303);
    const cookie = tab1.cookies.get('gatehouse') as string;
    const tab2 = new Browser(app.url);
    tab2.cookies.set('gatehouse', cookie);

    // Tab 2's first page load reads the session (which has no CSRF token yet) and stalls.
    const release = store.holdNextGet();
    const slow = tab2.get('/');
    await store.loaded;

    // Meanwhile tab 1 signs out completely.
    const out = await tab1.logout();
    expect(out.status).to.equal(303);

    // Tab 2 now finishes: it renders with its stale copy and tries to save a new CSRF token.
    release();
    const late = await slow;
    expect(late.status).to.equal(200);

    const row = app.ctx.db.prepare('SELECT deleted_at, delete_reason, data FROM sessions WHERE user_id IS NOT NULL').get() as {
      deleted_at: number | null;
      delete_reason: string;
    };
    expect(row.deleted_at).to.be.a('number');
    expect(row.delete_reason).to.equal('logout');
    expect(recentAudit(app.ctx, 20, 'session-resurrection-blocked')).to.have.length(1);

    const replay = new Browser(app.url);
    replay.cookies.set('gatehouse', cookie);
    const again = await replay.get('/');
    expect(again.status).to.equal(303);
    expect(again.location).to.equal('/login');
  });
});
