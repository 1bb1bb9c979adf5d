// Malformed and hostile sign-in input gets a clear 4xx, never a 5xx, and never reaches
// the password hasher; username look-alikes neither collide with nor impersonate admin.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

describe('hostile sign-in input', () => {
  let app: TestApp;
  let hashes = 0;
  before(async () => {
    // Several wrong sign-ins from one address in a row would meet the login backoff;
    // throttling has its own tests (test/integration/throttle).
    app = await startApp({ config: { throttle: { backoff_after: 10 } } });
    await addUser(app.ctx, 'admin', { groups: ['admins'] });
    // Count argon2 verifications without changing them.
    const hasher = app.ctx.hasher;
    const verify = hasher.verify.bind(hasher);
    hasher.verify = (h: string, p: string) => {
      hashes += 1;
      return verify(h, p);
    };
  });
  after(() => app.close());
  beforeEach(() => {
    hashes = 0;
  });

  async function post(fields: Record<string, string | string[]>, raw?: string) {
    const b = new Browser(app.url);
    const token = await b.csrf('/login');
    if (raw !== undefined) {
      return b.request('POST', '/login', { body: `_csrf=${token}&${raw}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    }
    return b.post('/login', { _csrf: token, ...fields });
  }

  const cases: Array<[string, Record<string, string | string[]>, RegExp]> = [
    ['a NUL byte in the username', { username: 'adm\0in', password: GOOD_PASSWORD }, /control or invisible/],
    ['a zero-width space in the username', { username: 'ad\u200bmin', password: GOOD_PASSWORD }, /control or invisible/],
    ['a zero-width joiner in the username', { username: 'ad\u200dmin', password: GOOD_PASSWORD }, /control or invisible/],
    ['a CR/LF in the username', { username: 'admin\r\nX-Injected: 1', password: GOOD_PASSWORD }, /control or invisible/],
    ['an over-long username', { username: 'a'.repeat(300), password: GOOD_PASSWORD }, /too long/],
    ['a NUL byte in the password', { username: 'admin', password: `${GOOD_PASSWORD}\0` }, /NUL/],
    ['a 257-character password', { username: 'admin', password: 'x'.repeat(257) }, /at most 256/],
    ['a 257-emoji password (over 1024 bytes)', { username: 'admin', password: '😀'.repeat(257) }, /at most 256/],
    ['the username twice (an array)', { username: ['admin', 'root'], password: GOOD_PASSWORD }, /single text value/],
    ['a missing password', { username: 'admin' }, /password must be a single text value/i],
  ];
  for (const [label, fields, message] of cases) {
    it(`answers 400 with a clear message for ${label}, without hashing`, async () => {
      const res = await post(fields);
      expect(res.status).to.equal(400);
      expect(res.text).to.match(message);
      expect(hashes).to.equal(0);
    });
  }

  it('answers 400 for bracket-style nesting (username[]=a): no objects or arrays sneak in', async () => {
    const res = await post({}, `username[]=admin&password=${encodeURIComponent(GOOD_PASSWORD)}`);
    expect(res.status).to.equal(400);
  });

  it('answers 413 for too many form fields', async () => {
    const extra = Array.from({ length: 30 }, (_, i) => `f${i}=x`).join('&');
    const res = await post({}, `username=admin&password=x&${extra}`);
    expect(res.status).to.equal(413);
    expect(res.text).to.contain('too many fields');
  });

  it('answers 413 for an oversized body', async () => {
    const res = await post({ username: 'admin', password: 'x'.repeat(40_000) });
    expect(res.status).to.equal(413);
  });

  it('answers 4xx, not 5xx, for a malformed cookie header', async () => {
    const b = new Browser(app.url);
    for (const cookie of ['gatehouse=%E0%A4%A', 'gatehouse=s%3A' + 'A'.repeat(4000), '=;;==;gatehouse', 'gatehouse=s:x.y; gatehouse=s:z.w']) {
      const res = await b.get('/', { cookie });
      expect(res.status, cookie.slice(0, 30)).to.be.oneOf([303, 400, 431]);
    }
  });

  it('answers 4xx for a malformed percent-encoding in the path', async () => {
    const res = await new Browser(app.url).get('/%E0%A4%A');
    expect(res.status).to.be.within(400, 499);
  });

  describe('look-alike usernames', () => {
    it('cannot create a second "admin" with fullwidth, dotless ı, Cyrillic or zero-width tricks', async () => {
      for (const name of ['ａｄｍｉｎ', 'ADMIN', 'admın', 'аdmin', 'ad\u200bmin', 'admin\u0307']) {
        let failed = false;
        try {
          await addUser(app.ctx, name, { password: 'someone else entirely here' });
        } catch (err) {
          failed = true;
          expect((err as { code?: string }).code, name).to.be.oneOf(['user-exists', 'invalid-username']);
        }
        expect(failed, `creating ${JSON.stringify(name)}`).to.equal(true);
      }
      expect(app.ctx.users.list().map((u) => u.username)).to.deep.equal(['admin']);
    });

    it('signing in with a look-alike never reaches admin without admin’s own password', async () => {
      for (const name of ['admın', 'аdmin', 'ａｄｍｉｎ', 'ADMIN']) {
        const res = await new Browser(app.url).login(name, 'someone else entirely here');
        expect(res.status, name).to.equal(401);
      }
      // Fullwidth and upper case are the same account by NFKC + case folding, so only
      // admin's real password opens it; dotless ı and Cyrillic are not admin at all.
      expect((await new Browser(app.url).login('ａｄｍｉｎ', GOOD_PASSWORD)).status).to.equal(303);
      expect((await new Browser(app.url).login('admın', GOOD_PASSWORD)).status).to.equal(401);
      expect((await new Browser(app.url).login('аdmin', GOOD_PASSWORD)).status).to.equal(401);
    });
  });

  it('costs one hash for an unknown user too (no timing oracle)', async () => {
    await post({ username: 'nobody-here', password: GOOD_PASSWORD });
    expect(hashes).to.equal(1);
    hashes = 0;
    await post({ username: 'admın', password: GOOD_PASSWORD });
    expect(hashes).to.equal(1);
  });
});
