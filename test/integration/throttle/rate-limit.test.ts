// The global rate limit (express-rate-limit on the SQLite store) through the real app:
// 429 with standard RateLimit headers past rate_limit.max, per client IP as resolved through
// trusted proxies only, persisted across a restart, and none of express-rate-limit's
// configuration checks (ERR_ERL_*) ever fires.

import { createServer } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import { createApp } from '../../../src/http/app.js';
import { SqliteRateLimitStore } from '../../../src/throttle/rate-limit-store.js';
import { Browser } from '../../support/browser.js';
import { GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

const via = (ip: string) => ({ 'x-forwarded-for': ip, 'x-forwarded-proto': 'https' });

/** Everything written to console.warn / console.error / console.log while `work` runs. */
async function consoleOutput(work: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const original = { warn: console.warn, error: console.error, log: console.log };
  const capture = (...args: unknown[]) => void seen.push(args.map((a) => (a instanceof Error ? `${(a as Error & { code?: string }).code ?? ''} ${a.message}` : String(a))).join(' '));
  console.warn = capture;
  console.error = capture;
  console.log = capture;
  try {
    await work();
  } finally {
    Object.assign(console, original);
  }
  return seen;
}

describe('global rate limit', () => {
  let app: TestApp | null = null;
  afterEach(async () => {
    await app?.close();
    app = null;
  });

  it('answers 429 with Retry-After and RateLimit headers past rate_limit.max, per client IP', async () => {
    app = await startApp({ config: { rate_limit: { max: 5, window: '1m' } } });
    const direct = new Browser(app.url);
    for (let i = 1; i <= 5; i++) {
      const res = await direct.get('/login');
      expect(res.status).to.equal(200);
      expect(res.headers.get('ratelimit')).to.equal(`"5-in-1min"; r=${5 - i}; t=60`);
      expect(res.headers.get('ratelimit-policy')).to.match(/^"5-in-1min"; q=5; w=60; pk=:[A-Za-z0-9+/=]+:$/);
      expect(res.headers.get('x-ratelimit-limit'), 'no legacy headers').to.equal(null);
    }
    const limited = await new Browser(app.url).get('/login');
    expect(limited.status).to.equal(429);
    expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 60);
    expect(limited.headers.get('ratelimit')).to.match(/^"5-in-1min"; r=0; t=\d+$/);
    expect(limited.text).to.contain('Too many requests from your address');
    expect(limited.setCookies, 'answered before the session middleware').to.deep.equal([]);
    // Another client (through the trusted proxy) has its own bucket; the health check is exempt.
    expect((await new Browser(app.url, via('198.51.100.8')).get('/login')).status).to.equal(200);
    expect((await new Browser(app.url).get('/healthz')).status).to.equal(200);
  });

  it('limits sign-in posts too', async () => {
    app = await startApp({ config: { rate_limit: { max: 3 } } });
    const b = new Browser(app.url, via('198.51.100.9'));
    const token = await b.csrf('/login');
    expect((await b.post('/login', { _csrf: token, username: 'x', password: GOOD_PASSWORD })).status).to.equal(401);
    expect((await b.post('/login', { _csrf: token, username: 'x', password: GOOD_PASSWORD })).status).to.equal(401);
    expect((await b.post('/login', { _csrf: token, username: 'x', password: GOOD_PASSWORD })).status).to.equal(429);
  });

  it('keeps counting across a server restart', async () => {
    app = await startApp({ config: { rate_limit: { max: 3 } } });
    for (let i = 0; i < 3; i++) expect((await new Browser(app.url).get('/login')).status).to.equal(200);
    const { dataDir } = app;
    await app.close({ remove: false });
    app = await startApp({ dataDir, config: { rate_limit: { max: 3 } } });
    expect((await new Browser(app.url).get('/login')).status).to.equal(429);
  });

  it('does not let a client that is not a trusted proxy pick a fresh bucket with X-Forwarded-For', async () => {
    app = await startApp({ config: { rate_limit: { max: 2 }, server: { trusted_proxies: ['10.0.0.0/8'] } } });
    expect((await new Browser(app.url, via('198.51.100.1')).get('/login')).status).to.not.equal(429);
    expect((await new Browser(app.url, via('198.51.100.2')).get('/login')).status).to.not.equal(429);
    expect((await new Browser(app.url, via('198.51.100.3')).get('/login')).status).to.equal(429);
  });

  it('refuses a malformed X-Forwarded-For from a trusted proxy with 400 instead of counting it', async () => {
    app = await startApp();
    for (const bad of ['not-an-ip', '198.51.100.1:5678', '[2001:db8::1]']) {
      const res = await new Browser(app.url, via(bad)).get('/login');
      expect(res.status, bad).to.equal(400);
      expect(res.text).to.contain('X-Forwarded-For');
    }
  });

  describe("express-rate-limit's own checks", () => {
    const scenarios: Array<[string, Record<string, unknown>, Array<Record<string, string>>]> = [
      ['a direct client', {}, [{}]],
      ['a trusted proxy with IPv4 and IPv6 clients', {}, [via('198.51.100.1'), via('2001:db8::1'), via('203.0.113.5, 198.51.100.2')]],
      ['a client that is not a trusted proxy sending X-Forwarded-For', { server: { trusted_proxies: ['10.0.0.0/8'] } }, [via('198.51.100.1')]],
      ['no trusted proxies at all', { server: { trusted_proxies: [] } }, [via('198.51.100.1')]],
      ['a trusted proxy forwarding a malformed X-Forwarded-For', {}, [via('not-an-ip'), via('198.51.100.1:5678')]],
      ['a client sending the standard Forwarded header', {}, [{ forwarded: 'for=198.51.100.1;proto=https' }, { forwarded: 'for=1.2.3.4', 'x-forwarded-for': '198.51.100.1' }]],
    ];
    for (const [label, config, requests] of scenarios) {
      it(`prints nothing for ${label}, below and past the limit`, async () => {
        const output = await consoleOutput(async () => {
          app = await startApp({ config: { ...config, rate_limit: { max: 2 } } });
          for (const headers of requests) {
            // A sign-in (a page and a post), then past the limit; a later header set may
            // share the bucket (an ignored header), so the sign-in may meet the limit itself.
            await new Browser(app.url, headers).login('nobody-here', GOOD_PASSWORD).catch(() => null);
            for (let i = 0; i < 3; i++) await new Browser(app.url, headers).get('/login');
          }
          // Building the app again on the same context (a second limiter) is fine too.
          createApp(app.ctx);
        });
        expect(output).to.deep.equal([]);
      });
    }

    it('would notice a misconfiguration (the capture works)', async () => {
      app = await startApp();
      const ctx = app.ctx;
      const output = await consoleOutput(async () => {
        const bare = express(); // trust proxy left unset: X-Forwarded-For cannot be right
        bare.use(rateLimit({ limit: 5, standardHeaders: 'draft-8', legacyHeaders: false, store: new SqliteRateLimitStore(ctx.db, ctx.clock, { prefix: 'control:' }) }));
        bare.get('/', (_req, res) => void res.send('ok'));
        const server = createServer(bare);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const { port } = server.address() as { port: number };
        try {
          await fetch(`http://127.0.0.1:${port}/`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
        } finally {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
      });
      expect(output.join('\n')).to.contain('ERR_ERL_UNEXPECTED_X_FORWARDED_FOR');
    });
  });
});
