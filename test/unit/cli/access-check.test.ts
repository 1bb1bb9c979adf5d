// `gatehouse access check`: the rule and answer for a URL, user, client IP and method.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { explainAccess } from '../../../src/cli/access-check.js';
import { codeAt } from '../twofactor/support.js';
import { CliError } from '../../../src/cli/io.js';
import { createContext, type AppContext } from '../../../src/context.js';
import { GOOD_PASSWORD, tempDir, testConfig } from '../../support/harness.js';

describe('gatehouse access check', () => {
  let dir: string;
  let ctx: AppContext;
  before(async () => {
    dir = tempDir();
    ctx = createContext(
      testConfig(dir, {
        portal_url: 'https://auth.home.example',
        session: { cookie_domain: 'home.example' },
        access_control: {
          default_policy: 'deny',
          networks: { lan: ['192.168.0.0/16'] },
          rules: [
            { domain: 'public.home.example', policy: 'bypass' },
            { domain: 'admin.home.example', subject: ['group:admins'], policy: 'one_factor' },
            { domain: 'vault.home.example', policy: 'two_factor' },
            { domain: '*.home.example', resources: ['^/api/'], networks: ['lan'], methods: ['POST'], policy: 'deny' },
            { domain: '*.home.example', policy: 'one_factor' },
          ],
        },
      }),
    );
    await ctx.accounts.create({ username: 'alice', password: GOOD_PASSWORD, groups: ['admins'], by: 'test' });
    await ctx.accounts.create({ username: 'bob', password: GOOD_PASSWORD, by: 'test' });
  });
  after(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const check = (url: string, opts: { user?: string; ip?: string; method?: string } = {}) =>
    explainAccess(ctx, url, { method: 'GET', ...opts }).join('\n');

  it('names the matching rule and the answer', () => {
    expect(check('https://admin.home.example/', { user: 'alice' })).to.match(/rule: +#1 /).and.match(/answer: +200 allowed/);
    expect(check('https://public.home.example/')).to.match(/rule: +#0 /).and.match(/answer: +200/);
    expect(check('https://app.home.example/')).to.match(/rule: +#4 /).and.match(/answer: +not signed in/);
  });

  it('applies the client IP and method to network and method rules', () => {
    expect(check('https://nas.home.example/api/x', { user: 'bob', ip: '192.168.1.9', method: 'post' })).to.match(/rule: +#3 /).and.match(/403/);
    expect(check('https://nas.home.example/api/x', { user: 'bob', ip: '10.0.0.9', method: 'POST' })).to.match(/rule: +#4 /);
    expect(check('https://nas.home.example/api/x', { user: 'bob', method: 'POST' })).to.match(/no client IP/).and.match(/rule: +#4 /);
  });

  it('explains a two_factor rule: the second step for a user with a factor, 403 for one without', async () => {
    const bob = ctx.users.findByUsername('bob')!;
    expect(check('https://vault.home.example/', { user: 'bob' })).to.match(/rule: +#2 /).and.match(/answer: +403 forbidden: this user has no second factor/);
    const { secret } = await ctx.twoFactor.totp.begin(bob);
    expect(ctx.twoFactor.totp.confirm(bob, codeAt(secret, Date.now())).ok).to.equal(true);
    expect(check('https://vault.home.example/', { user: 'bob' })).to.match(/answer: +after a password alone: the second sign-in step/);
    ctx.twoFactor.reset(bob, 'test');
  });

  it('explains a member refused on a host claimed by a subject rule, and the default policy', () => {
    expect(check('https://admin.home.example/', { user: 'bob' })).to.match(/claims this request/).and.match(/403/);
    expect(check('https://elsewhere.example/')).to.match(/default_policy deny/);
  });

  it('explains a URL the endpoints refuse (400) instead of matching it loosely', () => {
    for (const [url, reason] of [
      ['https://public.home.example/..%2fadmin', /encoded "\/"/],
      ['https://public.home.example/%2e%2e/admin', /encoded dot segment/],
      ['https://public.home.example/..;/admin', /dot segment with ";"/],
      ['https://public.home.example/%5c..%5cadmin', /encoded "\\"/],
      ['https://public.home.example/a\\..\\admin', /backslash/],
      ['https://public.home.example/%zz', /percent-encoding/],
      ['https://admin.home.example./', /not a host name/],
    ] as const) {
      const out = check(url, { user: 'alice' });
      expect(out, url).to.match(/rule: +none: refused before any rule is checked/);
      expect(out, url).to.match(/answer: +400 bad request \(\/auth\/verify and \/auth\/forward\): The original /).and.match(reason);
      expect(out, url).not.to.match(/200/);
    }
  });

  it('shows the canonical path the rules match, and matches hosts without case', () => {
    const out = check('https://App.Home.Example/x/../%61pi//y?q=1', { user: 'bob', ip: '192.168.1.9', method: 'POST' });
    expect(out).to.match(/path: +\/api\/y\?q=1 /).and.match(/rule: +#3 /).and.match(/403/);
    expect(check('https://nas.home.example/API/x', { user: 'bob', ip: '192.168.1.9', method: 'POST' })).to.match(/rule: +#3 /);
  });

  it('refuses a bad URL, IP, method or user clearly', () => {
    for (const [url, opts] of [
      ['not a url', {}],
      ['ftp://app.home.example/', {}],
      ['https://app.home.example/', { ip: '999.1.1.1' }],
      ['https://app.home.example/', { method: 'G E T' }],
    ] as const) {
      expect(() => check(url, opts), url).to.throw(CliError);
    }
    expect(() => check('https://app.home.example/', { user: 'nobody' })).to.throw(/No user named/);
  });
});
