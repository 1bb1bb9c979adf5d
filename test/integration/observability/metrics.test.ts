// GET /metrics through the real app over real HTTP: off by default (404), the Prometheus
// text format when enabled, counters that follow sign-ins, forward-auth decisions and
// session endings, refusal outside metrics.networks however the client IP is claimed, and
// labels that never carry a username, an address or a path with an id in it.

import { isIP } from 'node:net';
import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { forward, forwardAuthConfig, HTTPS, verify } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { getFrom, parseMetrics, valueOf, type Sample } from './support.js';

const EXPECTED = [
  'gatehouse_http_requests_total',
  'gatehouse_http_request_duration_seconds_bucket',
  'gatehouse_forward_auth_decisions_total',
  'gatehouse_forward_auth_duration_seconds_count',
  'gatehouse_logins_total',
  'gatehouse_sessions_live',
  'gatehouse_sessions_ended_total',
  'gatehouse_throttle_bans_active',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_seconds',
];

describe('metrics endpoint', () => {
  describe('by default', () => {
    let app: TestApp;
    before(async () => (app = await startApp()));
    after(() => app.close());

    it('is off: 404, the same answer as any unknown page', async () => {
      const res = await getFrom(app.url, '/metrics');
      const unknown = await getFrom(app.url, '/no-such-page');
      expect(res.status).to.equal(404);
      expect(res.text).to.equal(unknown.text);
      expect(res.text).not.to.contain('gatehouse_');
    });
  });

  describe('when enabled', () => {
    let app: TestApp;
    // Real time that the test can move on: gauges read from the database are cached for 5 s.
    const clock = { offset: 0, now: () => Date.now() + clock.offset };
    const pastGaugeCache = () => (clock.offset += 6_000);
    const scrape = async (): Promise<Sample[]> => {
      const res = await getFrom(app.url, '/metrics');
      expect(res.status).to.equal(200);
      return parseMetrics(res.text);
    };

    before(async () => {
      app = await startApp({ config: forwardAuthConfig({ metrics: { enabled: true }, throttle: { max_failures_per_ip: 1, max_concurrent_hashes: 1, max_queued_hashes: 0 } }), clock });
      await addUser(app.ctx, 'alice', { groups: ['family'] });
    });
    after(() => app.close());

    it('answers loopback with the Prometheus text format and the expected metric names', async () => {
      expect((await getFrom(app.url, '/healthz')).status).to.equal(200);
      const res = await getFrom(app.url, '/metrics');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.equal('text/plain; version=0.0.4; charset=utf-8');
      expect(res.headers['cache-control']).to.equal('no-store');
      const names = new Set(parseMetrics(res.text).map((s) => s.name));
      for (const name of EXPECTED) expect(names, name).to.include(name);
    });

    it('counts sign-ins that succeed, fail and are throttled', async () => {
      const before = await scrape();
      const ok = new Browser(app.url, { ...HTTPS, 'x-forwarded-for': '198.51.100.10' });
      expect((await ok.login('alice', GOOD_PASSWORD)).status).to.equal(303);
      const guesser = new Browser(app.url, { ...HTTPS, 'x-forwarded-for': '198.51.100.66' });
      expect((await guesser.login('alice', 'not the password at all')).status).to.equal(401);
      expect((await guesser.login('alice', 'still not the password')).status).to.equal(429);
      pastGaugeCache();
      const after = await scrape();
      for (const outcome of ['succeeded', 'failed', 'throttled']) {
        const delta = valueOf(after, 'gatehouse_logins_total', { outcome }) - valueOf(before, 'gatehouse_logins_total', { outcome });
        expect(delta, outcome).to.equal(1);
      }
      expect(valueOf(after, 'gatehouse_logins_total', { outcome: 'busy' })).to.equal(0);
      expect(valueOf(after, 'gatehouse_throttle_bans_active', { scope: 'ip' })).to.be.at.least(1);
    });

    it('counts sign-ins refused because password hashing is at capacity', async () => {
      // One hash at a time, none queued: hold the only slot and the next sign-in is refused.
      let release = () => {};
      const held = app.ctx.hashGate.run(() => new Promise<void>((resolve) => (release = resolve)));
      try {
        const res = await new Browser(app.url, HTTPS).login('alice', GOOD_PASSWORD);
        expect(res.status).to.equal(503);
      } finally {
        release();
        await held;
      }
      expect(valueOf(await scrape(), 'gatehouse_logins_total', { outcome: 'busy' })).to.equal(1);
    });

    it('counts forward-auth decisions by endpoint, outcome and credential', async () => {
      const member = new Browser(app.url, HTTPS);
      expect((await member.login('alice', GOOD_PASSWORD)).status).to.equal(303);
      const before = await scrape();
      expect((await verify(member, 'https://app.home.example/')).status).to.equal(200);
      expect((await verify(member, 'https://app.home.example/other')).status).to.equal(200);
      expect((await forward(member, 'https://admin.home.example/')).status).to.equal(403);
      expect((await verify(new Browser(app.url, HTTPS), 'https://app.home.example/')).status).to.equal(401);
      const { token } = app.ctx.tokens.create({ userId: app.ctx.users.findByUsername('alice')!.id, username: 'alice', name: 'proxy', scope: 'read', lifetimeMs: 86_400_000, by: 'test' });
      const scripted = new Browser(app.url, HTTPS);
      expect((await verify(scripted, 'https://app.home.example/', { headers: { authorization: `Bearer ${token}` } })).status).to.equal(200);
      expect((await scripted.request('GET', '/auth/verify')).status).to.equal(400);
      const after = await scrape();
      const delta = (labels: Record<string, string>) =>
        valueOf(after, 'gatehouse_forward_auth_decisions_total', labels) - valueOf(before, 'gatehouse_forward_auth_decisions_total', labels);
      expect(delta({ endpoint: 'verify', outcome: 'allow', credential: 'cookie' })).to.equal(2);
      expect(delta({ endpoint: 'forward', outcome: 'deny', credential: 'cookie' })).to.equal(1);
      expect(delta({ endpoint: 'verify', outcome: 'unauthenticated', credential: 'none' })).to.equal(1);
      expect(delta({ endpoint: 'verify', outcome: 'allow', credential: 'token' })).to.equal(1);
      expect(delta({ endpoint: 'verify', outcome: 'bad-request', credential: 'none' })).to.equal(1);
    });

    it('counts ended sessions by reason, and live sessions', async () => {
      const b = new Browser(app.url, HTTPS);
      expect((await b.login('alice', GOOD_PASSWORD)).status).to.equal(303);
      pastGaugeCache();
      const before = await scrape();
      expect(valueOf(before, 'gatehouse_sessions_live')).to.be.at.least(1);
      expect((await b.logout()).status).to.equal(303);
      const other = new Browser(app.url, HTTPS);
      expect((await other.login('alice', GOOD_PASSWORD)).status).to.equal(303);
      const revoked = app.ctx.sessions.revokeUserSessions(app.ctx.users.findByUsername('alice')!.id, 'user-disabled', { by: 'test' });
      expect(revoked).to.be.at.least(1);
      const after = await scrape();
      const delta = (reason: string) => valueOf(after, 'gatehouse_sessions_ended_total', { reason }) - valueOf(before, 'gatehouse_sessions_ended_total', { reason });
      expect(delta('logout')).to.equal(1);
      expect(delta('user-disabled')).to.equal(revoked);
      expect(delta('revoked')).to.equal(0);
    });

    it('labels requests by route pattern, method and status class, never by user, address or id', async () => {
      const admin = new Browser(app.url, HTTPS);
      await app.ctx.accounts.create({ username: 'root', password: GOOD_PASSWORD, groups: ['admins'], by: 'test' });
      expect((await admin.login('root', GOOD_PASSWORD)).status).to.equal(303);
      expect((await admin.get('/admin/users/alice')).status).to.equal(200);
      expect((await admin.get('/login?rd=https%3A%2F%2Fapp.home.example%2Fsecret-path')).status).to.equal(303);
      expect((await admin.get('/no/such/page/12345')).status).to.equal(404);
      const samples = await scrape();
      expect(valueOf(samples, 'gatehouse_http_requests_total', { route: '/admin/users/:username', method: 'GET', status: '2xx' })).to.equal(1);
      expect(valueOf(samples, 'gatehouse_http_requests_total', { route: '/login', method: 'GET', status: '3xx' })).to.be.at.least(1);
      expect(valueOf(samples, 'gatehouse_http_requests_total', { route: '(no route)', method: 'GET', status: '4xx' })).to.be.at.least(1);
      const values = samples.filter((s) => s.name.startsWith('gatehouse_')).flatMap((s) => Object.values(s.labels));
      for (const value of values) {
        expect(isIP(value), value).to.equal(0);
        expect(value).not.to.match(/alice|root|secret-path|12345|\?/);
      }
      const routes = new Set(samples.filter((s) => s.name === 'gatehouse_http_requests_total').map((s) => s.labels.route));
      for (const route of routes) expect(route, 'a route pattern').to.match(/^(\/[a-z0-9.:_-]*)+$|^\(no route\)$/);
    });
  });

  describe('from outside metrics.networks', () => {
    let app: TestApp;
    // Only 127.0.0.1 is a trusted proxy here: 127.0.0.3 is an ordinary client on loopback.
    before(async () => {
      app = await startApp({ config: { server: { trusted_proxies: ['127.0.0.1'] }, metrics: { enabled: true, networks: ['127.0.0.2/32', '192.0.2.0/24'] } } });
    });
    after(() => app.close());

    it('answers an allowed client, directly or through the trusted proxy', async () => {
      expect((await getFrom(app.url, '/metrics', { localAddress: '127.0.0.2' })).status).to.equal(200);
      expect((await getFrom(app.url, '/metrics', { localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '192.0.2.10' } })).status).to.equal(200);
    });

    it('refuses a client the trusted proxy names outside the networks, and the proxy itself', async () => {
      const outside = await getFrom(app.url, '/metrics', { localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.5' } });
      expect(outside.status).to.equal(404);
      expect(outside.text).not.to.contain('gatehouse_');
      expect((await getFrom(app.url, '/metrics', { localAddress: '127.0.0.1' })).status).to.equal(404);
    });

    it('refuses a request a local proxy forwarded without saying for whom (no X-Forwarded-For)', async () => {
      const local = await startApp({ config: { metrics: { enabled: true } } }); // networks: loopback
      try {
        expect((await getFrom(local.url, '/metrics', { localAddress: '127.0.0.1' })).status, 'a local scraper').to.equal(200);
        const proxies: Array<Record<string, string>> = [{ via: '1.1 nginx' }, { 'x-forwarded-proto': 'https' }, { 'x-real-ip': '203.0.113.5' }, { forwarded: 'for=203.0.113.5' }];
        for (const headers of proxies) {
          const hidden = await getFrom(local.url, '/metrics', { localAddress: '127.0.0.1', headers });
          expect(hidden.status, JSON.stringify(headers)).to.equal(404);
        }
      } finally {
        await local.close();
      }
    });

    it('refuses a client that is not a trusted proxy but claims an allowed address in X-Forwarded-For', async () => {
      const spoofed = await getFrom(app.url, '/metrics', { localAddress: '127.0.0.3', headers: { 'x-forwarded-for': '192.0.2.10' } });
      expect(spoofed.status).to.equal(404);
      expect(spoofed.text).not.to.contain('gatehouse_');
    });
  });
});
