// The README's nginx and Caddy snippets as pasted: they pass `nginx -t` and `caddy validate`,
// and, running in real nginx and Caddy, let no identity a client sends reach the service
// (Remote-User, -Groups, -Email, the underscore alias Remote_User, nor a `{…}` placeholder):
// on a bypass host, for a member without groups or email, for a signed-in member, signed out.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { Browser } from '../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, tempDir, type TestApp } from '../support/harness.js';
import {
  checkCaddy,
  checkNginx,
  DOMAIN,
  freePort,
  makeCertificate,
  proxiesAvailable,
  startCaddy,
  startNginx,
  startUpstream,
  throughProxy,
  type ProxyOptions,
  type RunningProxy,
  type Seen,
  type Upstream,
} from '../support/proxies.js';

/** What a client claims; none of it may reach the service. */
const SPOOF: Record<string, string> = { 'Remote-User': 'mallory', 'Remote-Groups': 'mallory-admins', 'Remote-Email': 'mallory@evil.example', Remote_User: 'mallory-alias' };
const CLIENT_VALUES = new Set(Object.values(SPOOF));
const HTML = { accept: 'text/html' };

interface Identity {
  user: string;
  groups: string;
  name: string;
  email: string;
}
const NOBODY: Identity = { user: '', groups: '', name: '', email: '' };

/** The upstream's identity headers come from gatehouse alone: `expected`, empty or absent where empty. */
function expectFromGatehouse(seen: Seen | undefined, expected: Identity): void {
  expect(seen, 'the request reached the service').to.not.equal(undefined);
  const names = new Set<string>();
  for (const [name, value] of seen!.identity) {
    expect(name, `${name}: an alias or unknown identity header`).to.match(/^remote-(user|groups|name|email)$/i);
    expect(names.has(name.toLowerCase()), `${name} twice`).to.equal(false);
    names.add(name.toLowerCase());
    expect(CLIENT_VALUES.has(value), `${name}: ${value} is the client's`).to.equal(false);
    expect(value, `${name}: a placeholder`).to.not.match(/[{}]/);
  }
  expect({ user: seen!.user ?? '', groups: seen!.groups ?? '', name: seen!.name ?? '', email: seen!.email ?? '' }).to.deep.equal(expected);
}

describe('the README proxy snippets, as pasted', function () {
  this.timeout(60_000);
  let dir: string;
  let tls: { cert: string; key: string };
  let app: TestApp;
  let upstream: Upstream;
  /** The forward-auth cookie of each signed-in member. */
  const cookies: Record<string, string> = {};

  before(async function () {
    const missing = proxiesAvailable();
    if (missing) {
      if (process.env.CI) throw new Error(`${missing} is missing: run scripts/install-test-deps.sh`);
      this.skip();
    }
    dir = tempDir('gatehouse-snippets-');
    tls = makeCertificate(dir);
    upstream = await startUpstream();
    app = await startApp({
      config: {
        portal_url: `https://auth.${DOMAIN}`,
        session: { cookie_domain: DOMAIN },
        access_control: {
          default_policy: 'deny',
          rules: [
            { domain: `public.${DOMAIN}`, policy: 'bypass' },
            { domain: `admin.${DOMAIN}`, subject: ['group:admins'], policy: 'one_factor' },
            { domain: `*.${DOMAIN}`, policy: 'one_factor' },
          ],
        },
      },
    });
    await app.ctx.accounts.create({ username: 'alice', password: GOOD_PASSWORD, displayName: 'Alice', email: 'alice@home.example', groups: ['admins'], by: 'test' });
    // No groups, no email, no display name (the name falls back to the username).
    await addUser(app.ctx, 'kim');
    for (const username of ['alice', 'kim']) {
      const b = new Browser(app.url, { 'x-forwarded-proto': 'https' });
      expect((await b.login(username, GOOD_PASSWORD)).status).to.equal(303);
      cookies[username] = `__Secure-gatehouse_forward=${b.cookies.get('__Secure-gatehouse_forward')}`;
    }
  });
  after(async () => {
    upstream?.server.close();
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the nginx snippet passes `nginx -t` with only its certificate paths substituted', () => {
    const result = checkNginx(dir, tls);
    expect(result.status, result.output).to.equal(0);
    expect(result.output).to.match(/syntax is ok/).and.not.match(/\[(warn|emerg)\]/);
  });

  it('the Caddy snippet passes `caddy validate` exactly as it is', () => {
    const result = checkCaddy(dir);
    expect(result.status, result.output).to.equal(0);
    // Also as `caddy fmt` writes it: pasting it draws no "not formatted" warning.
    expect(result.output).to.match(/Valid configuration/).and.not.match(/not formatted/);
  });

  const variants: Array<[string, (o: ProxyOptions) => Promise<RunningProxy>]> = [
    ['nginx', (o) => startNginx(o)],
    // The snippet does not lean on nginx dropping underscore headers by default.
    ['nginx with underscores_in_headers on', (o) => startNginx({ ...o, http: ['underscores_in_headers on;'] })],
    ['caddy', (o) => startCaddy(o)],
  ];
  for (const [name, start] of variants) {
    describe(`client-sent identity headers through ${name}`, () => {
      let proxy: RunningProxy;
      const tag = name.replace(/\W+/g, '-');
      /** A request with the client's spoofed headers; the path names the case in the upstream's log. */
      const send = async (host: string, label: string, who?: string) => {
        const path = `/${tag}/${label}`;
        const reply = await throughProxy(proxy.port, `${host}.${DOMAIN}`, path, { ...SPOOF, ...HTML, ...(who ? { cookie: `${cookies[who]}; app_pref=dark` } : {}) });
        return { reply, seen: upstream.seen.filter((s) => s.path === path) };
      };

      before(async () => {
        proxy = await start({ dir, tls, gatehouse: Number(new URL(app.url).port), upstream: upstream.port, port: await freePort() });
      });
      after(() => proxy?.stop());

      it('(a) on a bypassed host: nobody, whether signed out or in', async () => {
        for (const who of [undefined, 'alice']) {
          const { reply, seen } = await send('public', `bypass-${who ?? 'anonymous'}`, who);
          expect(reply.status, proxy.output()).to.equal(200);
          expect(seen).to.have.length(1);
          expectFromGatehouse(seen[0], NOBODY);
        }
      });

      it('(b) a member without groups or email: those stay empty', async () => {
        const { reply, seen } = await send('photos', 'member-without-email', 'kim');
        expect(reply.status).to.equal(200);
        expectFromGatehouse(seen[0], { user: 'kim', groups: '', name: 'kim', email: '' });
      });

      it('(c) a signed-in member: gatehouse’s values only', async () => {
        for (const host of ['photos', 'admin']) {
          const { reply, seen } = await send(host, `member-${host}`, 'alice');
          expect(reply.status).to.equal(200);
          expectFromGatehouse(seen[0], { user: 'alice', groups: 'admins', name: 'Alice', email: 'alice@home.example' });
          // gatehouse's cookie stays out; the service's own passes.
          expect(seen[0]?.cookie).to.include('app_pref=dark').and.not.include('gatehouse');
        }
      });

      it('(d) signed out, or not allowed: the request never reaches the service', async () => {
        const out = await send('photos', 'signed-out');
        expect(out.reply.status).to.equal(302);
        expect(out.reply.location).to.match(new RegExp(`^https://auth\\.${DOMAIN.replace('.', '\\.')}/login\\?rd=`));
        const refused = await send('admin', 'not-allowed', 'kim');
        expect(refused.reply.status).to.equal(403);
        expect([...out.seen, ...refused.seen]).to.deep.equal([]);
      });
    });
  }
});
