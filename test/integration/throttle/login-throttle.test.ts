// Login throttling through the real app over real HTTP, client addresses set by a trusted
// proxy's X-Forwarded-For: per-user lock across rotating IPs, IP ban, spraying, restart,
// success reset, known devices, no hashing when throttled, and the audit trail.

import { expect } from 'chai';
import { GENERIC_LOGIN_FAILURE } from '../../../src/auth/login-routes.js';
import { Browser, type Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

const WRONG = 'definitely-not-the-password-42';
const from = (ip: string) => ({ 'x-forwarded-for': ip, 'x-forwarded-proto': 'https' });

describe('login throttling', () => {
  let app: TestApp;
  let clock: FakeClock;

  async function start(throttle: Record<string, unknown> = {}, dataDir?: string): Promise<void> {
    clock ??= new FakeClock(Date.now());
    app = await startApp({ clock, config: { throttle }, ...(dataDir ? { dataDir } : {}) });
  }
  beforeEach(() => {
    clock = new FakeClock(Date.now());
  });
  afterEach(() => app.close());

  /** One sign-in from `ip`, after waiting `waitMs` (past any backoff, well inside the window). */
  async function login(ip: string, username: string, password: string, waitMs = 10_000): Promise<Reply> {
    clock.advance(waitMs);
    return new Browser(app.url, from(ip)).login(username, password);
  }

  function expectThrottled(res: Reply): void {
    expect(res.status).to.equal(429);
    expect(Number(res.headers.get('retry-after'))).to.be.at.least(1);
    expect(res.text).to.contain(GENERIC_LOGIN_FAILURE);
    expect(res.text).not.to.match(/locked|banned|too many|exist/i);
  }

  /** Counts argon2 work: verifications of real and of stand-in hashes. */
  function countHashing(): { calls: number } {
    const counter = { calls: 0 };
    const hasher = app.ctx.hasher;
    const verify = hasher.verify.bind(hasher);
    const verifyNobody = hasher.verifyNobody.bind(hasher);
    hasher.verify = (hash: string, password: string) => {
      counter.calls += 1;
      return verify(hash, password);
    };
    hasher.verifyNobody = (password: string) => {
      counter.calls += 1;
      return verifyNobody(password);
    };
    return counter;
  }

  it('answers the 6th bad password for one user with 429 and Retry-After, even from rotating IPs', async () => {
    await start();
    await addUser(app.ctx, 'alice');
    for (let i = 1; i <= 5; i++) expect((await login(`203.0.113.${i}`, 'alice', WRONG)).status, `attempt ${i}`).to.equal(401);
    const sixth = await login('203.0.113.6', 'alice', GOOD_PASSWORD);
    expectThrottled(sixth);
    expect(sixth.headers.get('retry-after')).to.equal('890'); // locked for 15 min from the 5th, 10 s ago
    expect(sixth.text).to.contain('value="alice"'); // the form is shown again, as for a 401
  });

  // Regression guard for username case in throttling (cf. Authelia CVE-2026-47203): counting
  // failures under the name as typed would give every spelling its own budget.
  it('counts Bob, BOB, bob and fullwidth ｂｏｂ against one per-user budget', async () => {
    await start();
    await addUser(app.ctx, 'bob');
    const spellings = ['Bob', 'BOB', 'bob', '\uff42\uff4f\uff42', '\uff22\uff2f\uff22'];
    for (const [i, name] of spellings.entries()) expect((await login(`203.0.113.${i + 1}`, name, WRONG)).status, name).to.equal(401);
    expectThrottled(await login('203.0.113.20', 'bob', GOOD_PASSWORD));
    expectThrottled(await login('203.0.113.21', 'Bob', GOOD_PASSWORD));
    expect(app.ctx.regulator.listBans().map((b) => [b.scope, b.username])).to.deep.equal([['user', 'bob']]);
  });

  it('treats an unknown username the same way (no hint whether the user exists)', async () => {
    await start();
    const statuses: number[] = [];
    for (let i = 1; i <= 6; i++) statuses.push((await login(`203.0.113.${i}`, 'no-such-person', WRONG)).status);
    expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 429]);
  });

  it('bans an IP after max_failures_per_ip failures, for every username, and only that IP', async () => {
    await start({ max_failures_per_ip: 6, backoff_after: 10 });
    await addUser(app.ctx, 'alice');
    for (let i = 0; i < 6; i++) expect((await login('203.0.113.9', i % 2 ? 'alice' : 'bob', WRONG)).status).to.equal(401);
    expectThrottled(await login('203.0.113.9', 'carol', WRONG));
    expectThrottled(await login('203.0.113.9', 'alice', GOOD_PASSWORD));
    expect((await login('198.51.100.1', 'alice', GOOD_PASSWORD)).status).to.equal(303);
    expect(app.ctx.regulator.listBans().map((b) => [b.scope, b.ip, b.cause])).to.deep.equal([['ip', '203.0.113.9', 'failures']]);
  });

  it('holds an address ban whichever way the proxy writes the address (IPv4 inside IPv6)', async () => {
    await start({ max_failures_per_ip: 3, backoff_after: 10 });
    await addUser(app.ctx, 'alice');
    for (let i = 0; i < 3; i++) expect((await login('192.0.2.77', 'bob', WRONG)).status).to.equal(401);
    for (const spelling of ['::ffff:c000:24d', '::ffff:192.0.2.77', '0:0:0:0:0:ffff:c000:024d']) {
      expectThrottled(await login(spelling, 'alice', GOOD_PASSWORD));
    }
    expect((await login('192.0.2.78', 'alice', GOOD_PASSWORD)).status).to.equal(303);
  });

  it('bans an IP that tries one password against many usernames (spraying)', async () => {
    await start();
    await addUser(app.ctx, 'alice');
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) expect((await login('203.0.113.50', name, 'Summer2024!Summer2024!')).status).to.equal(401);
    expectThrottled(await login('203.0.113.50', 'frank', 'Summer2024!Summer2024!'));
    expectThrottled(await login('203.0.113.50', 'alice', GOOD_PASSWORD));
    // One failure each: the usernames are not locked; alice signs in from elsewhere.
    expect((await login('198.51.100.1', 'alice', GOOD_PASSWORD)).status).to.equal(303);
    const [ban] = recentAudit(app.ctx, 10, 'ban-imposed');
    expect(ban).to.deep.include({ ip: '203.0.113.50', username: null });
    expect(ban?.details).to.include({ scope: 'ip', cause: 'spraying', duration_ms: 15 * 60_000, count: 1 });
  });

  it('keeps its counters across a server restart', async () => {
    await start();
    await addUser(app.ctx, 'alice');
    for (let i = 1; i <= 5; i++) expect((await login(`203.0.113.${i}`, 'alice', WRONG)).status).to.equal(401);
    const { dataDir } = app;
    await app.close({ remove: false });
    await start({}, dataDir);
    expectThrottled(await login('203.0.113.6', 'alice', GOOD_PASSWORD));
  });

  it('resets the username counter on a successful sign-in', async () => {
    await start();
    await addUser(app.ctx, 'alice');
    for (let i = 1; i <= 4; i++) expect((await login(`203.0.113.${i}`, 'alice', WRONG)).status).to.equal(401);
    expect((await login('192.0.2.7', 'alice', GOOD_PASSWORD)).status).to.equal(303);
    for (let i = 1; i <= 5; i++) expect((await login(`198.51.100.${i}`, 'alice', WRONG)).status, `after the reset, attempt ${i}`).to.equal(401);
    expectThrottled(await login('198.51.100.6', 'alice', WRONG));
  });

  it('never reaches the password hasher for a throttled request', async () => {
    await start({ max_failures_per_ip: 3, backoff_after: 10 });
    await addUser(app.ctx, 'alice');
    for (let i = 1; i <= 5; i++) await login(`203.0.113.${i}`, 'alice', WRONG);
    for (let i = 0; i < 3; i++) await login('198.51.100.99', 'someone', WRONG);
    const hashing = countHashing();
    expectThrottled(await login('203.0.113.77', 'alice', GOOD_PASSWORD)); // username locked
    expectThrottled(await login('198.51.100.99', 'nobody-at-all', WRONG)); // address banned
    expectThrottled(await login('198.51.100.99', 'al\u0131ce', WRONG)); // unsupported name, banned address
    expect(hashing.calls).to.equal(0);
    expect((await login('192.0.2.1', 'bob', WRONG)).status).to.equal(401);
    expect(hashing.calls, 'an allowed attempt is hashed as usual').to.be.at.least(1);
  });

  it('lets a device that signed alice in before keep trying while she is locked for strangers', async () => {
    await start();
    await addUser(app.ctx, 'alice');
    const home = '192.0.2.10';
    expect((await login(home, 'alice', GOOD_PASSWORD)).status).to.equal(303);
    for (let i = 1; i <= 5; i++) await login(`203.0.113.${i}`, 'alice', WRONG);
    expectThrottled(await login('203.0.113.99', 'alice', GOOD_PASSWORD));
    // Her own device: a typo is an ordinary 401, the right password gets in.
    expect((await login(home, 'alice', WRONG)).status).to.equal(401);
    expect((await login(home, 'alice', GOOD_PASSWORD)).status).to.equal(303);
    // Still locked for strangers: her success does not open the door for them.
    expectThrottled(await login('203.0.113.100', 'alice', GOOD_PASSWORD));
  });

  it('audits failures, throttles and bans with IP and username, and never a password', async () => {
    await start();
    await addUser(app.ctx, 'alice');
    for (let i = 1; i <= 6; i++) await login(`203.0.113.${i}`, 'alice', `${WRONG}-${i}`);
    const events = recentAudit(app.ctx, 50).reverse();
    const of = (event: string) => events.filter((e) => e.event === event);
    expect(of('login-failed').map((e) => [e.ip, e.username])).to.deep.equal([1, 2, 3, 4, 5].map((i) => [`203.0.113.${i}`, 'alice']));
    expect(of('ban-imposed')).to.have.length(1);
    expect(of('ban-imposed')[0]).to.deep.include({ username: 'alice', ip: null });
    expect(of('ban-imposed')[0]?.details).to.include({ scope: 'user', cause: 'failures', until: clock.now() - 10_000 + 15 * 60_000, duration_ms: 15 * 60_000, count: 1 });
    expect(of('login-throttled')).to.have.length(1);
    expect(of('login-throttled')[0]).to.deep.include({ ip: '203.0.113.6', username: 'alice', details: { reason: 'user-locked', retry_after: 890 } });
    const everything = JSON.stringify(app.ctx.db.prepare('SELECT * FROM audit_log').all());
    for (let i = 1; i <= 6; i++) expect(everything).not.to.contain(`${WRONG}-${i}`);
    expect(everything).not.to.contain(WRONG);
  });
});
