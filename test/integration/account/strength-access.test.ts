// Who may make the password strength estimator spend CPU: POST /password/strength serves a
// signed-in user or the setup page's visitor (valid setup token), everyone else is refused
// before any estimate. Every estimate a user causes, through the meter, a password form or
// the API, an administrator's user creation or reset, is charged to one budget per user
// (30 a minute), and one user's burst cannot take the estimator from anybody else. The
// estimate itself stays off the event loop.

import { expect } from 'chai';
import { sharedStrengthEstimator } from '../../../src/passwords/strength-estimator.js';
import { STRENGTH_CHECKS_PER_MINUTE } from '../../../src/throttle/strength-budget.js';
import { Browser, type Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { Api, ApiDoc } from '../../support/openapi.js';
import { signedIn, startAccountApp } from './support.js';

const NEW_PASSWORD = 'violet submarine orbits quietly';
/**
 * Passes the quick rules (length, common list, repetition, context words), so it reaches
 * zxcvbn, whose date and repeat matchers spend 300-700 ms on it (64 characters are analysed);
 * refused afterwards as too easy to guess (400): an attacker never needs a good password.
 */
const EXPENSIVE = `${'1'.repeat(63)}2`;

function ask(b: Browser, csrf: string, password: string, headers: Record<string, string> = {}): Promise<Reply> {
  return b.request('POST', '/password/strength', {
    body: JSON.stringify({ password }),
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf, ...headers },
  });
}

/** Counts the estimates the process's estimator is asked for while `work` runs. */
async function estimatesDuring(work: () => Promise<void>): Promise<number> {
  const estimator = sharedStrengthEstimator();
  const original = estimator.estimate;
  let count = 0;
  estimator.estimate = (...args) => {
    count++;
    return original.apply(estimator, args);
  };
  try {
    await work();
  } finally {
    estimator.estimate = original;
  }
  return count;
}

const errorCode = (res: Reply): unknown => (JSON.parse(res.text) as { error?: { code?: string } }).error?.code;

describe('password strength endpoint: access and budget', () => {
  let app: TestApp;
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock();
    app = await startAccountApp({}, { clock });
  });
  afterEach(() => app.close());

  it('refuses an anonymous visitor with a CSRF token (from the login page) with 401, without an estimate', async () => {
    await addUser(app.ctx, 'alice');
    const visitor = new Browser(app.url);
    const csrf = await visitor.csrf('/login');
    let res: Reply | null = null;
    const estimates = await estimatesDuring(async () => {
      res = await ask(visitor, csrf, 'p@ssw0rd'.repeat(8));
    });
    expect(res!.status).to.equal(401);
    expect(errorCode(res!)).to.equal('not-signed-in');
    expect(estimates).to.equal(0);
  });

  it('serves the setup page visitor only with a valid setup token (X-Setup-Token)', async () => {
    const token = (app.ctx.setup.issueIfNeeded() as { token: string }).token;
    const visitor = new Browser(app.url);
    const page = await visitor.get(`/setup?token=${token}`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
    expect((await ask(visitor, csrf, 'violet tractor mumble ocean')).status, 'no token').to.equal(401);
    const wrong = await ask(visitor, csrf, 'violet tractor mumble ocean', { 'x-setup-token': 'A'.repeat(43) });
    expect(wrong.status).to.equal(403);
    expect(errorCode(wrong)).to.equal('setup-token-invalid');
    const right = await ask(visitor, csrf, 'violet tractor mumble ocean', { 'x-setup-token': token });
    expect(right.status).to.equal(200);
    expect(JSON.parse(right.text)).to.include({ acceptable: true });
    // Once an account exists the setup token opens nothing.
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    expect((await ask(visitor, csrf, 'violet tractor mumble ocean', { 'x-setup-token': token })).status).to.equal(403);
  });

  it(`allows ${STRENGTH_CHECKS_PER_MINUTE} checks a minute per user, then 429 with Retry-After; others keep theirs`, async () => {
    await addUser(app.ctx, 'alice');
    await addUser(app.ctx, 'bob');
    const alice = await signedIn(app, 'alice', GOOD_PASSWORD);
    const csrf = await alice.csrf('/account/password');
    for (let i = 0; i < STRENGTH_CHECKS_PER_MINUTE; i++) expect((await ask(alice, csrf, `violet tractor ${i}`)).status).to.equal(200);
    const limited = await ask(alice, csrf, 'violet tractor mumble ocean');
    expect(limited.status).to.equal(429);
    expect(errorCode(limited)).to.equal('rate-limited');
    expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 60);
    // The page itself and another user are not affected.
    expect((await alice.get('/account/password')).status).to.equal(200);
    const bob = await signedIn(app, 'bob', GOOD_PASSWORD);
    expect((await ask(bob, await bob.csrf('/account/password'), 'violet tractor mumble ocean')).status).to.equal(200);
    clock.advance(61_000);
    expect((await ask(alice, csrf, 'violet tractor mumble ocean')).status).to.equal(200);
  });

  it('keeps zxcvbn off the event loop: costly checks cost the main thread no more than cheap ones', async () => {
    await addUser(app.ctx, 'alice');
    const alice = await signedIn(app, 'alice', GOOD_PASSWORD);
    const csrf = await alice.csrf('/account/password');
    /** Main-thread (event loop) busy time for 12 sequential checks, client included. */
    const busyFor = async (password: (i: number) => string): Promise<number> => {
      const before = performance.eventLoopUtilization();
      for (let i = 1; i <= 12; i++) expect((await ask(alice, csrf, password(i))).status).to.equal(200);
      return performance.eventLoopUtilization(before).active;
    };
    await ask(alice, csrf, 'warm up'); // starts the worker
    const cheap = await busyFor((i) => `v${i}`);
    // Among the costliest inputs for zxcvbn (l33t substitutions), at the 256-character
    // maximum: about 50 ms each here, which the event loop paid before (SECURITY.md, Input).
    const costly = await busyFor((i) => `${i}${'p@ssw0rd'.repeat(32)}`.slice(0, 256));
    expect(costly, `main thread busy: ${costly.toFixed(0)} ms for costly checks, ${cheap.toFixed(0)} ms for cheap ones`).to.be.below(2 * cheap + 150);
  });
});

describe('password strength budget: shared by every path that estimates', () => {
  let app: TestApp;
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock();
    app = await startAccountApp({}, { clock });
  });
  afterEach(() => app.close());

  /** Spends the whole minute's budget of `b`'s user through the meter. */
  async function spendThroughMeter(b: Browser, headers: Record<string, string> = {}): Promise<void> {
    const csrf = headers['x-setup-token'] ? await b.csrf(`/setup?token=${headers['x-setup-token']}`) : await b.csrf('/account/password');
    for (let i = 0; i < STRENGTH_CHECKS_PER_MINUTE; i++) expect((await ask(b, csrf, `violet tractor ${i}`, headers)).status).to.equal(200);
  }

  it('the password form and PUT /api/v1/me/password spend the meter budget: then 429 with Retry-After, nothing changed', async () => {
    const alice = await addUser(app.ctx, 'alice');
    await addUser(app.ctx, 'bob');
    const browser = await signedIn(app, 'alice', GOOD_PASSWORD);
    await spendThroughMeter(browser);
    const form = await browser.post('/account/password', { _csrf: await browser.csrf('/account/password'), current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD, new_password_confirm: NEW_PASSWORD });
    expect(form.status).to.equal(429);
    expect(form.text).to.match(/Too many password checks\. Wait \d+ seconds and try again\./);
    expect(Number(form.headers.get('retry-after'))).to.be.within(1, 60);
    const api = await new Api(await ApiDoc.fetch(app.url), browser).put('/api/v1/me/password', { current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD });
    expect(api.status).to.equal(429);
    expect(api.body.error.code).to.equal('rate-limited');
    expect(Number(api.headers.get('retry-after'))).to.be.within(1, 60);
    expect(await app.ctx.accounts.checkPassword(alice.id, GOOD_PASSWORD), 'the password is unchanged').to.equal(true);
    // Another user keeps their budget; alice gets hers back the next minute.
    const bob = await signedIn(app, 'bob', GOOD_PASSWORD);
    expect((await bob.post('/account/password', { _csrf: await bob.csrf('/account/password'), current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD, new_password_confirm: NEW_PASSWORD })).status).to.equal(303);
    clock.advance(61_000);
    expect((await browser.post('/account/password', { _csrf: await browser.csrf('/account/password'), current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD, new_password_confirm: NEW_PASSWORD })).status).to.equal(303);
  });

  it("an administrator's user creation and password resets spend the administrator's budget", async () => {
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    const carol = await addUser(app.ctx, 'carol');
    const b = await signedIn(app, 'root', GOOD_PASSWORD);
    await spendThroughMeter(b);
    const page = async (path: string, action: string, fields: Record<string, string>): Promise<Reply> =>
      b.post(action, { _csrf: await b.csrf(path), ...fields }, { referer: new URL(path, app.url).href });
    const reset = await page('/admin/users/carol', '/admin/users/carol/password', { password: NEW_PASSWORD, password_confirm: NEW_PASSWORD });
    const created = await page('/admin/users/new', '/admin/users', { username: 'dave', password: NEW_PASSWORD, password_confirm: NEW_PASSWORD });
    for (const res of [reset, created]) {
      expect(res.status).to.equal(429);
      expect(res.text).to.contain('Too many password checks.');
      expect(Number(res.headers.get('retry-after'))).to.be.within(1, 60);
    }
    const api = new Api(await ApiDoc.fetch(app.url), b);
    expect((await api.put('/api/v1/users/carol/password', { password: NEW_PASSWORD })).status).to.equal(429);
    expect((await api.post('/api/v1/users', { username: 'dave', password: NEW_PASSWORD })).status).to.equal(429);
    expect(app.ctx.users.findByUsername('dave'), 'nobody created').to.equal(null);
    expect(await app.ctx.accounts.checkPassword(carol.id, GOOD_PASSWORD), "carol's password is unchanged").to.equal(true);
  });

  it("the setup page's account creation spends its visitor's budget; the token stays unused", async () => {
    const token = (app.ctx.setup.issueIfNeeded() as { token: string }).token;
    const visitor = new Browser(app.url);
    await spendThroughMeter(visitor, { 'x-setup-token': token });
    const fields = { token, username: 'root', password: NEW_PASSWORD, password_confirm: NEW_PASSWORD };
    const refused = await visitor.post('/setup', { _csrf: await visitor.csrf(`/setup?token=${token}`), ...fields });
    expect(refused.status).to.equal(429);
    expect(refused.text).to.contain('Too many password checks.');
    expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 60);
    expect(app.ctx.users.list()).to.deep.equal([]);
    clock.advance(61_000);
    expect((await visitor.post('/setup', { _csrf: await visitor.csrf(`/setup?token=${token}`), ...fields })).status).to.equal(303);
  });
});

describe('password strength estimator: one signed-in user cannot exhaust it', () => {
  let app: TestApp;

  beforeEach(async () => {
    // Production defaults for the budgets: 300 requests a minute per address.
    app = await startApp();
    await addUser(app.ctx, 'mallory');
    await addUser(app.ctx, 'alice');
  });
  afterEach(() => app.close());

  it(`POST /account/password spends no more than ${STRENGTH_CHECKS_PER_MINUTE} estimates a minute per user, then 429 with Retry-After`, async () => {
    const mallory = await signedIn(app, 'mallory', GOOD_PASSWORD, 'browser of mallory');
    const token = await mallory.csrf('/account/password');
    const attempts = STRENGTH_CHECKS_PER_MINUTE + 10;
    const replies: Reply[] = [];
    const estimates = await estimatesDuring(async () => {
      for (let i = 0; i < attempts; i++) {
        // A weak new password with any current password: refused after the estimate.
        replies.push(await mallory.post('/account/password', { _csrf: token, current_password: 'not my password', new_password: `${'1'.repeat(14)}${i}x`, new_password_confirm: `${'1'.repeat(14)}${i}x` }));
      }
    });
    const statuses = replies.map((r) => r.status);
    expect(statuses.slice(0, STRENGTH_CHECKS_PER_MINUTE).every((s) => s === 400), 'attempts within the budget answered 400').to.equal(true);
    expect(statuses.slice(STRENGTH_CHECKS_PER_MINUTE).every((s) => s === 429), 'attempts beyond it throttled').to.equal(true);
    const last = replies[attempts - 1] as Reply;
    expect(last.text).to.match(/Too many password checks\. Wait \d+ seconds and try again\./);
    expect(Number(last.headers.get('retry-after'))).to.be.within(1, 60);
    // The form's estimates count against the same per-user budget as the meter's.
    expect(estimates, 'estimates one user could trigger in a minute').to.be.at.most(STRENGTH_CHECKS_PER_MINUTE);
  });

  it("a burst of weak new passwords from one user leaves another user's password change working", async function () {
    this.timeout(120_000);
    const mallory = await signedIn(app, 'mallory', GOOD_PASSWORD, 'browser of mallory');
    const alice = await signedIn(app, 'alice', GOOD_PASSWORD, 'browser of alice');
    const token = await mallory.csrf('/account/password');
    const aliceToken = await alice.csrf('/account/password');
    const flood: Array<Promise<Reply>> = [];
    let full!: () => void;
    const queueFull = new Promise<void>((resolve) => (full = resolve));
    for (let i = 0; i < 45; i++) {
      const attempt = mallory.post('/account/password', { _csrf: token, current_password: 'x', new_password: EXPENSIVE, new_password_confirm: EXPENSIVE });
      attempt.then((r) => r.status === 503 && full(), () => {});
      flood.push(attempt);
    }
    // The first 503 says mallory's places in the queue are taken (one check at a time,
    // 50-150 ms each when warm): alice changes her password now, during the burst.
    await queueFull;
    const change = await alice.post('/account/password', { _csrf: aliceToken, current_password: GOOD_PASSWORD, new_password: NEW_PASSWORD, new_password_confirm: NEW_PASSWORD });
    const results = await Promise.allSettled(flood);
    const busy = results.filter((r) => r.status === 'fulfilled' && r.value.status === 503).length;
    expect(busy, "some of mallory's own requests were refused as busy").to.be.greaterThan(0);
    // Alice's change goes through (303), whatever mallory does.
    expect(change.status, `alice's password change (${/password-check-busy|Too many password checks/.test(change.text) ? 'password-check-busy' : 'other'})`).to.equal(303);
  });
});
