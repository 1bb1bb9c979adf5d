// One login for every home service behind a real nginx (auth_request) and a real Caddy
// (forward_auth), both running the README's snippets (test/support/proxies.ts), in real Chromium: blocked until signed in, the upstream receives
// Remote-User, sign-out blocks again, and a member is refused on the admins-only host.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, requireChromium } from '../support/chromium.js';
import { addUser, GOOD_PASSWORD, startApp, tempDir, type TestApp } from '../support/harness.js';
import { DOMAIN, freePort, makeCertificate, proxiesAvailable, startCaddy, startNginx, startUpstream, type RunningProxy } from '../support/proxies.js';

const proxies = { nginx: startNginx, caddy: startCaddy } as const;

for (const [name, start] of Object.entries(proxies)) {
  describe(`behind a real ${name} (Chromium)`, function () {
    this.timeout(90_000);
    let dir: string;
    let app: TestApp;
    let proxy: RunningProxy;
    let upstream: Awaited<ReturnType<typeof startUpstream>>;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    const at = (host: string, path = '/') => `https://${host}.${DOMAIN}:${proxy.port}${path}`;

    before(async function () {
      requireChromium(this);
      const missing = proxiesAvailable();
      if (missing) {
        if (process.env.CI) throw new Error(`${missing} is missing: run scripts/install-test-deps.sh`);
        this.skip();
      }
      dir = tempDir('gatehouse-proxy-');
      const tls = makeCertificate(dir);
      upstream = await startUpstream();
      // The proxy's port is chosen first: the portal URL in gatehouse's config names it.
      const port = await freePort();
      app = await startApp({
        config: {
          portal_url: `https://auth.${DOMAIN}:${port}`,
          session: { cookie_domain: DOMAIN },
          access_control: {
            default_policy: 'deny',
            rules: [
              { domain: `admin.${DOMAIN}`, subject: ['group:admins'], policy: 'one_factor' },
              { domain: `*.${DOMAIN}`, policy: 'one_factor' },
            ],
          },
        },
      });
      proxy = await start({ dir, tls, gatehouse: Number(new URL(app.url).port), upstream: upstream.port, port });
      await addUser(app.ctx, 'alice', { groups: ['admins'] });
      await addUser(app.ctx, 'bob', { groups: ['family'] });
      browser = await launchChromium([`--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`]);
    });
    after(async () => {
      await browser?.close();
      await proxy?.stop();
      upstream?.server.close();
      await app?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(async () => {
      context = await browser.newContext({ ignoreHTTPSErrors: true });
      page = await context.newPage();
    });
    afterEach(() => context.close());

    async function signIn(username: string): Promise<void> {
      await page.fill('#username', username);
      await page.fill('#password', GOOD_PASSWORD);
      await page.click('button[type=submit]');
    }

    it('sends an anonymous visitor to the login page, then back to the service as that user', async () => {
      await page.goto(at('photos', '/photos?album=1'));
      const login = new URL(page.url());
      expect(login.host).to.equal(`auth.${DOMAIN}:${proxy.port}`);
      expect(login.pathname).to.equal('/login');
      expect(login.searchParams.get('rd')).to.equal(at('photos', '/photos?album=1'));
      expect(upstream.seen.filter((s) => s.path === '/photos?album=1')).to.have.length(0);

      await signIn('alice');
      await page.waitForURL(at('photos', '/photos?album=1'));
      expect(await page.textContent('#who')).to.equal('user=alice groups=admins');
      const cookies = await context.cookies();
      // The forward-auth cookie is shared with the cookie domain; the portal's stays on its host.
      expect(cookies.find((c) => c.name === '__Secure-gatehouse_forward')).to.deep.include({ domain: `.${DOMAIN}`, secure: true, httpOnly: true, sameSite: 'Lax' });
      expect(cookies.find((c) => c.name === '__Host-gatehouse')).to.deep.include({ domain: `auth.${DOMAIN}`, secure: true, httpOnly: true, sameSite: 'Lax' });
      // The proxy keeps gatehouse's cookie from the service; the service's own cookies pass.
      await context.addCookies([{ name: 'app_pref', value: 'dark', domain: `photos.${DOMAIN}`, path: '/', secure: true }]);
      await page.goto(at('photos', '/with-cookies'));
      const seen = upstream.seen.filter((s) => s.path === '/with-cookies');
      expect(seen).to.have.length(1);
      expect(seen[0]?.cookie ?? '').to.not.include('gatehouse');
      expect(seen[0]?.cookie ?? '').to.include('app_pref=dark');
      expect(upstream.seen.filter((s) => (s.cookie ?? '').includes('gatehouse'))).to.deep.equal([]);

      // The admin host lets an administrator in.
      await page.goto(at('admin'));
      expect(await page.textContent('#who')).to.equal('user=alice groups=admins');

      // Signing out on the portal blocks the service again.
      await page.goto(at('auth'));
      await page.click('header button[type=submit]');
      await page.waitForURL(/\/login\?notice=signed_out$/);
      await page.goto(at('photos', '/photos'));
      expect(new URL(page.url()).pathname).to.equal('/login');
    });

    it('refuses a household member on the admins-only host', async () => {
      await page.goto(at('admin', '/settings'));
      // Back on admin.home.test after sign-in, where bob is not allowed.
      const [response] = await Promise.all([page.waitForResponse((r) => r.url() === at('admin', '/settings')), signIn('bob')]);
      expect(response.status()).to.equal(403);
      expect(upstream.seen.filter((s) => s.host?.startsWith('admin.') && s.user === 'bob')).to.have.length(0);
      await page.goto(at('photos'));
      expect(await page.textContent('#who')).to.equal('user=bob groups=family');
    });

    it('ignores Remote-User sent by the client itself', async () => {
      await page.goto(at('photos'));
      await signIn('bob');
      await page.waitForURL(at('photos'));
      const body = await page.evaluate(async (url) => {
        const res = await fetch(url, { headers: { 'Remote-User': 'alice', 'Remote-Groups': 'admins' } });
        return res.text();
      }, at('photos', '/forged'));
      expect(body).to.contain('user=bob groups=family');
    });
  });
}
