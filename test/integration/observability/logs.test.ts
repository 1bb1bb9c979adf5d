// The log through the real app: one info line per page or API request (route pattern,
// status, duration, request id, client IP, never the query string), request ids echoed in
// X-Request-Id and taken from trusted proxies only, forward-auth checks only at debug, no
// secret in the output of the flows that handle them, and human-readable lines on a terminal.

import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createLogger } from '../../../src/lib/log.js';
import { Browser } from '../../support/browser.js';
import { forwardAuthConfig, HTTPS, verify } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, tempDir, type TestApp } from '../../support/harness.js';
import { getFrom, LogSink } from './support.js';

const requestLines = (sink: LogSink) => sink.lines().filter((l) => l.msg === 'request');

describe('logs', () => {
  describe('at info', () => {
    let app: TestApp;
    const sink = new LogSink();
    before(async () => {
      app = await startApp({ config: forwardAuthConfig(), log: createLogger('info', sink) });
      await addUser(app.ctx, 'alice');
    });
    after(() => app.close());

    it('writes one line per page request: route pattern, status, duration, request id and client IP, never the query string', async () => {
      const rd = 'https://app.home.example/private?api_key=Zq8Kv2mN4';
      const res = await getFrom(app.url, `/login?rd=${encodeURIComponent(rd)}`, { headers: { ...HTTPS, 'x-forwarded-for': '198.51.100.7' } });
      expect(res.status).to.equal(200);
      const id = res.headers['x-request-id'];
      expect(id).to.match(/^[0-9a-f]{16}$/);
      const line = requestLines(sink).find((l) => l.requestId === id);
      expect(line).to.include({ level: 30, method: 'GET', route: '/login', status: 200, ip: '198.51.100.7' });
      expect(line?.ms).to.be.a('number');
      expect(sink.text).not.to.contain('Zq8Kv2mN4');
      expect(sink.text).not.to.contain('rd=');
    });

    it('names routes by their pattern and unmatched paths as "(no route)"', async () => {
      await getFrom(app.url, '/admin/users/alice');
      await getFrom(app.url, '/no-such-page/8f3a');
      const routes = requestLines(sink).map((l) => l.route);
      expect(routes).to.include('/admin/users/:username').and.to.include('(no route)');
      expect(sink.text).not.to.contain('8f3a');
    });

    it('keeps a short printable X-Request-Id from the trusted proxy and replaces anything else', async () => {
      const echoed = async (value: string) => (await getFrom(app.url, '/login', { headers: { 'x-request-id': value } })).headers['x-request-id'];
      expect(await echoed('nginx-4f2a9c-01')).to.equal('nginx-4f2a9c-01');
      expect(requestLines(sink).some((l) => l.requestId === 'nginx-4f2a9c-01')).to.equal(true);
      for (const bad of ['x'.repeat(65), 'two words', 'tab\there', 'caf\u00e9']) expect(await echoed(bad), bad).to.match(/^[0-9a-f]{16}$/);
    });

    it('does not log forward-auth checks at info', async () => {
      const before = sink.text.length;
      const member = new Browser(app.url, HTTPS);
      expect((await member.login('alice', GOOD_PASSWORD)).status).to.equal(303);
      const afterLogin = sink.text.length;
      for (let i = 0; i < 5; i++) expect((await verify(member, 'https://app.home.example/')).status).to.equal(200);
      expect((await verify(new Browser(app.url, HTTPS), 'https://app.home.example/')).status).to.equal(401);
      expect(afterLogin).to.be.greaterThan(before);
      expect(sink.text.length).to.equal(afterLogin);
    });
  });

  describe('behind a proxy that is not on loopback', () => {
    let app: TestApp;
    before(async () => (app = await startApp({ config: { server: { trusted_proxies: ['127.0.0.1'] } } })));
    after(() => app.close());

    it('ignores X-Request-Id from a client that is not a trusted proxy', async () => {
      const direct = await getFrom(app.url, '/login', { localAddress: '127.0.0.3', headers: { 'x-request-id': 'forged-id-1' } });
      expect(direct.headers['x-request-id']).to.match(/^[0-9a-f]{16}$/);
      const proxied = await getFrom(app.url, '/login', { localAddress: '127.0.0.1', headers: { 'x-request-id': 'proxy-id-1' } });
      expect(proxied.headers['x-request-id']).to.equal('proxy-id-1');
    });
  });

  describe('at debug', () => {
    let app: TestApp;
    const sink = new LogSink();
    before(async () => {
      app = await startApp({ config: forwardAuthConfig(), log: createLogger('debug', sink) });
      await addUser(app.ctx, 'alice');
    });
    after(() => app.close());

    it('logs each forward-auth check as one line with its outcome, and no cookie', async () => {
      const member = new Browser(app.url, { ...HTTPS, 'x-forwarded-for': '192.0.2.44' });
      expect((await member.login('alice', GOOD_PASSWORD)).status).to.equal(303);
      expect((await verify(member, 'https://app.home.example/page?secret=Xy7')).status).to.equal(200);
      const checks = sink.lines().filter((l) => l.msg === 'forward-auth check');
      expect(checks).to.have.length(1);
      expect(checks[0]).to.include({ level: 20, endpoint: 'verify', outcome: 'allow', credential: 'cookie', ip: '192.0.2.44', host: 'app.home.example' });
      expect(sink.text).not.to.contain('Xy7');
    });
  });

  describe('never secrets', () => {
    let app: TestApp;
    const sink = new LogSink();
    before(async () => {
      app = await startApp({ config: forwardAuthConfig(), log: createLogger('trace', sink) });
      await addUser(app.ctx, 'alice');
    });
    after(() => app.close());

    it('leaves no password, cookie, session ID or token in the log of a sign-in, a password change, a Bearer API call and a forward-auth check', async () => {
      const secrets: string[] = [GOOD_PASSWORD];
      const b = new Browser(app.url, { ...HTTPS, 'x-forwarded-for': '198.51.100.23' });
      expect((await b.login('alice', 'a wrong password, typed twice')).status).to.equal(401);
      secrets.push('a wrong password, typed twice');
      expect((await b.login('alice', GOOD_PASSWORD)).status).to.equal(303);
      const cookieBefore = b.cookies.get('__Host-gatehouse') as string;
      const forwardBefore = b.cookies.get('__Secure-gatehouse_forward') as string;
      const fresh = 'an entirely fresh passphrase for alice';
      const token = await b.csrf('/account/password');
      const changed = await b.post('/account/password', { _csrf: token, current_password: GOOD_PASSWORD, new_password: fresh, new_password_confirm: fresh });
      expect(changed.status).to.equal(303);
      const cookie = b.cookies.get('__Host-gatehouse') as string;
      const forwardCookie = b.cookies.get('__Secure-gatehouse_forward') as string;
      secrets.push(fresh, token);

      const alice = app.ctx.users.findByUsername('alice')!;
      const bearer = app.ctx.tokens.create({ userId: alice.id, username: 'alice', name: 'script', scope: 'read', lifetimeMs: 86_400_000, by: 'test' }).token;
      const me = await b.request('GET', '/api/v1/me', { headers: { authorization: `Bearer ${bearer}`, cookie: '' } });
      expect(me.status).to.equal(200);
      expect((await verify(b, 'https://app.home.example/')).status).to.equal(200);
      expect((await verify(new Browser(app.url, HTTPS), 'https://app.home.example/', { headers: { authorization: `Bearer ${bearer}` } })).status).to.equal(200);

      for (const c of [cookieBefore, cookie]) {
        const raw = decodeURIComponent(c);
        secrets.push(c, raw, raw.slice(2).split('.')[0] as string);
      }
      secrets.push(forwardBefore, forwardCookie, bearer, bearer.slice(4));
      expect(sink.lines().length).to.be.greaterThan(5);
      for (const secret of secrets) expect(sink.text, secret).not.to.contain(secret);
    });
  });

  describe('format', () => {
    const repo = fileURLToPath(new URL('../../../', import.meta.url));
    let dir: string;
    let script: string;
    before(() => {
      dir = tempDir('gatehouse-log-format-');
      script = join(dir, 'log-once.mjs');
      const logModule = new URL('../../../src/lib/log.ts', import.meta.url).href;
      writeFileSync(script, `import { createLogger } from ${JSON.stringify(logModule)};\ncreateLogger('info').info({ route: '/login' }, 'hello from the test');\n`);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('is one JSON object per line when stdout is not a terminal (journald)', () => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: repo, encoding: 'utf8' });
      const line = JSON.parse(out.trim()) as Record<string, unknown>;
      expect(line).to.include({ level: 30, msg: 'hello from the test', route: '/login', service: 'gatehouse' });
    });

    it('is human-readable when stdout is a terminal', function () {
      // util-linux `script` (Debian's essential bsdutils) gives the child a pseudo-terminal.
      const run = spawnSync('script', ['-qec', `${process.execPath} --import tsx ${script}`, '/dev/null'], { cwd: repo, encoding: 'utf8', timeout: 15_000 });
      if (run.error) throw run.error;
      expect(run.status, run.stderr).to.equal(0);
      // eslint-disable-next-line no-control-regex
      const out = run.stdout.replace(/\x1b\[[0-9;]*m/g, '');
      expect(out).to.match(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: hello from the test/);
      expect(out).to.contain('{"route":"/login"}');
      expect(out).not.to.contain('{"level"');
    });
  });
});
