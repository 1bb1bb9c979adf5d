// Who may make POST /password/strength spend CPU: a signed-in user or the setup page's
// visitor (valid setup token), within a budget of their own; everyone else is refused
// before any estimate. The estimate itself stays off the event loop.

import { expect } from 'chai';
import { sharedStrengthEstimator } from '../../../src/auth/strength-estimator.js';
import { STRENGTH_CHECKS_PER_MINUTE } from '../../../src/throttle/rate-limit.js';
import { Browser, type Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { signedIn, startAccountApp } from './support.js';

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
