// POST /password/strength, the strength meter's check: CSRF and same-origin required, works
// for the setup page's visitor and signed-in users, scores weak and strong passwords,
// never echoes the password, and refuses malformed bodies with a 4xx. Access and budget:
// strength-access.test.ts.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { signedIn, startAccountApp } from './support.js';

interface Strength {
  score: number;
  acceptable: boolean;
  problems: string[];
  suggestions: string[];
}

function ask(b: Browser, csrf: string | null, body: unknown, headers: Record<string, string> = {}) {
  return b.request('POST', '/password/strength', {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(csrf ? { 'x-csrf-token': csrf } : {}), ...headers },
  });
}

describe('password strength endpoint', () => {
  let app: TestApp;
  let b: Browser;
  let csrf: string;
  before(async () => {
    app = await startAccountApp();
    await addUser(app.ctx, 'alice');
    b = await signedIn(app, 'alice', GOOD_PASSWORD);
    csrf = await b.csrf('/account/password');
  });
  after(() => app.close());

  it('scores "password" low and unacceptable, with the problems and advice', async () => {
    const res = await ask(b, csrf, { password: 'password' });
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const s = JSON.parse(res.text) as Strength;
    expect(s.score).to.be.at.most(1);
    expect(s.acceptable).to.equal(false);
    expect(s.problems.join(' ')).to.contain('at least 15 characters').and.contain('commonly used');
    expect(s.suggestions).to.be.an('array');
    expect(Object.keys(s).sort()).to.deep.equal(['acceptable', 'problems', 'score', 'suggestions']);
  });

  it('scores a long passphrase high and acceptable', async () => {
    const s = JSON.parse((await ask(b, csrf, { password: 'vivid otter mailbox thunder quietly' })).text) as Strength;
    expect(s).to.deep.include({ score: 4, acceptable: true, problems: [] });
  });

  it("uses the signed-in user's name as a context word, or the username sent", async () => {
    const own = JSON.parse((await ask(b, csrf, { password: 'alice-alice-alice-7' })).text) as Strength;
    expect(own.acceptable).to.equal(false);
    expect(own.problems.join(' ')).to.contain('mostly your username');
    const other = JSON.parse((await ask(b, csrf, { password: 'marguerite-marguerite-1', username: 'marguerite' })).text) as Strength;
    expect(other.acceptable).to.equal(false);
    expect(other.score).to.be.at.most(1);
  });

  it('never echoes the password', async () => {
    for (const password of ['Tr0ub4dor&3', 'qwertyuiopasdfgh', 'vivid otter mailbox thunder quietly', 'Zz9!unusual<tag>secret', 'x'.repeat(300)]) {
      const res = await ask(b, csrf, { password });
      expect(res.text, password).not.to.contain(password);
    }
  });

  it('needs the CSRF token: missing or wrong answers 403', async () => {
    expect((await ask(b, null, { password: 'password' })).status).to.equal(403);
    const wrong = await ask(b, 'A'.repeat(64), { password: 'password' });
    expect(wrong.status).to.equal(403);
    expect(JSON.parse(wrong.text)).to.have.nested.property('error.code', 'csrf-invalid');
    // A visitor who is not signed in is refused before the CSRF check (strength-access.test.ts).
    expect((await ask(new Browser(app.url), csrf, { password: 'password' })).status).to.equal(401);
  });

  it('refuses cross-site requests', async () => {
    expect((await ask(b, csrf, { password: 'password' }, { 'sec-fetch-site': 'cross-site' })).status).to.equal(403);
    expect((await ask(b, csrf, { password: 'password' }, { origin: 'https://evil.example' })).status).to.equal(403);
  });

  const hostile: Array<[string, unknown, number, Record<string, string>?]> = [
    ['a form body instead of JSON', 'password=password', 415, { 'content-type': 'application/x-www-form-urlencoded' }],
    ['malformed JSON', '{"password": ', 400],
    ['a JSON array', ['password'], 400],
    ['a JSON string', '"password"', 400],
    ['a password array', { password: ['a', 'b'] }, 400],
    ['a password object', { password: { $ne: 1 } }, 400],
    ['a missing password', { username: 'alice' }, 400],
    ['a NUL byte in the password', { password: 'long enough password\u0000really' }, 400],
    ['a control character in the username', { password: 'vivid otter mailbox', username: 'al\nice' }, 400],
    ['a body over 2 kB', { password: 'x'.repeat(3000) }, 413],
  ];
  for (const [label, body, status, headers] of hostile) {
    it(`answers ${status} for ${label}, never 500`, async () => {
      const res = await ask(b, csrf, body, headers);
      expect(res.status).to.equal(status);
      expect(JSON.parse(res.text)).to.have.nested.property('error.message').that.is.a('string');
    });
  }

  it('reports an over-long (257 character) password as unacceptable instead of scoring it', async () => {
    const s = JSON.parse((await ask(b, csrf, { password: 'y'.repeat(257) })).text) as Strength;
    expect(s).to.deep.include({ score: 0, acceptable: false });
    expect(s.problems.join(' ')).to.contain('at most 256');
  });
});

describe('password strength meter on the setup page', () => {
  let app: TestApp;
  before(async () => {
    app = await startAccountApp();
  });
  after(() => app.close());

  it('works for the visitor who is not signed in yet, with the setup form\'s CSRF token and setup token', async () => {
    const token = (app.ctx.setup.issueIfNeeded() as { token: string }).token;
    const b = new Browser(app.url);
    const page = await b.get(`/setup?token=${token}`);
    expect(page.text).to.contain('<script src="/password-meter.js" defer></script>');
    expect(page.text).to.match(/<input[^>]+name="password"[^>]+data-strength-meter/);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] as string;
    expect(page.text).to.contain(`<input type="hidden" name="token" value="${token}">`);
    const res = await ask(b, csrf, { password: 'vivid otter mailbox thunder quietly', username: 'root' }, { 'x-setup-token': token });
    expect(res.status).to.equal(200);
    expect(JSON.parse(res.text)).to.include({ acceptable: true });
  });

  it('serves the meter script as a static file (no inline script anywhere)', async () => {
    const res = await new Browser(app.url).get('/password-meter.js');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/javascript/);
    expect(res.text).to.contain('data-strength-meter').and.contain('X-CSRF-Token').and.contain('X-Setup-Token');
  });
});
