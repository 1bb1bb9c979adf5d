// The hash gate in the running app: a login storm never runs more than
// max_concurrent_hashes argon2 jobs at once, is refused fast with 503 beyond the queue,
// and the rest of the server keeps answering meanwhile.

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

const from = (ip: string) => ({ 'x-forwarded-for': ip, 'x-forwarded-proto': 'https' });

describe('hash gate (login storm)', () => {
  let app: TestApp;
  afterEach(() => app.close());

  /** Fills every slot with a job the test ends; the returned function ends them all. */
  function occupy(slots: number): () => Promise<void> {
    const releases: Array<() => void> = [];
    const held = Array.from({ length: slots }, () => app.ctx.hashGate.run(() => new Promise<void>((resolve) => releases.push(resolve))));
    return async () => {
      for (const release of releases) release();
      await Promise.all(held);
    };
  }

  /** Measures how many jobs really run inside the gate at once. */
  function measurePeak(): () => number {
    const gate = app.ctx.hashGate;
    const run = gate.run.bind(gate);
    let running = 0;
    let peak = 0;
    gate.run = <T>(work: () => Promise<T>) =>
      run(async () => {
        running += 1;
        peak = Math.max(peak, running);
        try {
          return await work();
        } finally {
          running -= 1;
        }
      });
    return () => peak;
  }

  it('answers 503 "busy" at once when the gate and its queue are full, without counting a failure', async () => {
    app = await startApp({ config: { throttle: { max_concurrent_hashes: 1, max_queued_hashes: 0 } } });
    await addUser(app.ctx, 'alice');
    const release = occupy(1);
    const started = Date.now();
    const res = await new Browser(app.url, from('198.51.100.4')).login('alice', GOOD_PASSWORD);
    expect(res.status).to.equal(503);
    expect(res.text).to.match(/busy/i);
    expect(res.headers.get('retry-after')).to.equal('5');
    expect(Date.now() - started).to.be.below(2000);
    expect(app.ctx.db.prepare('SELECT count(*) FROM throttle_counters').pluck().get(), 'not a failed sign-in').to.equal(0);
    await release();
    expect((await new Browser(app.url, from('198.51.100.4')).login('alice', GOOD_PASSWORD)).status).to.equal(303);
  });

  it('never runs more than max_concurrent_hashes at once in a storm, queues a few and refuses the rest', async () => {
    app = await startApp({ config: { throttle: { max_concurrent_hashes: 2, max_queued_hashes: 4 } } });
    await addUser(app.ctx, 'alice');
    const peak = measurePeak();
    const release = occupy(2);
    // 12 different addresses and usernames, so the regulator lets every one through.
    const browsers = Array.from({ length: 12 }, (_, i) => new Browser(app.url, from(`203.0.113.${i + 1}`)));
    const tokens = await Promise.all(browsers.map((b) => b.csrf('/login')));
    const answered: Reply[] = [];
    const storm = browsers.map((b, i) =>
      b.post('/login', { _csrf: tokens[i] as string, username: `storm-${i}`, password: 'wrong password for the storm' }).then((r) => {
        answered.push(r);
        return r;
      }),
    );
    // 4 wait in the queue; the other 8 are refused without waiting for a slot.
    for (let i = 0; i < 200 && answered.length < 8; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(answered.map((r) => r.status)).to.deep.equal(Array(8).fill(503));
    expect(app.ctx.hashGate.queued).to.equal(4);
    // The server still answers everything that does not hash.
    expect((await new Browser(app.url).get('/healthz')).status).to.equal(200);
    expect((await new Browser(app.url).get('/login')).status).to.equal(200);
    await release();
    const statuses = (await Promise.all(storm)).map((r) => r.status).sort();
    expect(statuses).to.deep.equal([...Array(4).fill(401), ...Array(8).fill(503)]);
    expect(peak()).to.equal(2);
  });

  it('refuses a sign-in before any other work (no rate-limit count, no session) while the gate is full', async () => {
    app = await startApp({ config: { throttle: { max_concurrent_hashes: 1, max_queued_hashes: 0 } } });
    await addUser(app.ctx, 'alice');
    const b = new Browser(app.url, from('198.51.100.5'));
    const token = await b.csrf('/login');
    const count = (sql: string) => app.ctx.db.prepare(sql).pluck().get() as number;
    const hits = 'SELECT coalesce(sum(hits), 0) FROM rate_limit_hits';
    const sessions = 'SELECT count(*) FROM sessions';
    const before = { hits: count(hits), sessions: count(sessions) };
    expect(before.hits, 'the GET was counted').to.be.greaterThan(0);
    const release = occupy(1);
    const res = await b.post('/login', { _csrf: token, username: 'alice', password: GOOD_PASSWORD });
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.equal('5');
    expect(res.text).to.match(/busy/i);
    expect({ hits: count(hits), sessions: count(sessions) }).to.deep.equal(before);
    await release();
    expect((await b.post('/login', { _csrf: token, username: 'alice', password: GOOD_PASSWORD })).status).to.equal(303);
  });
});
