// A sign-out link apps can use (issue 21, item 5): GET /logout?rd=… shows a one-button page
// and changes nothing; the button (POST /logout with the CSRF token) signs out and returns to
// `rd`, only when `rd` is an https URL on the cookie domain or a path of the portal's own.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { HTTPS } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';

const CONFIG = { portal_url: 'https://auth.home.example', session: { cookie_domain: 'home.example' } };
const APP = 'https://photos.home.example/albums?id=7';

/** Open-redirect forms: none may be followed after sign-out. */
const UNSAFE = [
  '//evil.example/',
  '///evil.example/',
  '/\\evil.example/',
  'https://evil.example/',
  'javascript:alert(1)',
  'https://home.example@evil.example/',
  'https://photos.home.example.evil.example/',
  'http://photos.home.example/',
  'https://photos.home.example/%0d%0aSet-Cookie:x=1',
  'data:text/html,hi',
];

const hidden = (html: string, name: string): string | undefined => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1]?.replace(/&amp;/g, '&');

describe('GET /logout: a sign-out link for apps', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startApp({ config: CONFIG });
    await addUser(app.ctx, 'kim');
  });
  afterEach(() => app.close());

  async function signedIn(): Promise<Browser> {
    const b = new Browser(app.url, HTTPS);
    expect((await b.login('kim', GOOD_PASSWORD)).status).to.equal(303);
    return b;
  }

  const liveSessions = (): number => (app.ctx.db.prepare('SELECT count(*) AS n FROM sessions WHERE deleted_at IS NULL AND user_id IS NOT NULL').get() as { n: number }).n;

  it('shows a one-button page and changes nothing: the session is still live after the GET', async () => {
    const b = await signedIn();
    const page = await b.get(`/logout?rd=${encodeURIComponent(APP)}`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('cache-control')).to.contain('no-store');
    const forms = page.text.match(/<form [^>]*action="\/logout"[^>]*>/g) ?? [];
    expect(forms).to.have.length(1);
    expect(forms[0]).to.match(/method="post"/);
    expect(page.text.match(/<button/g)).to.have.length(1);
    expect(hidden(page.text, '_csrf')).to.be.a('string');
    expect(hidden(page.text, 'rd')).to.equal(APP);
    expect(page.text).to.contain('photos.home.example');
    expect(liveSessions()).to.equal(1);
    expect((await b.get('/account')).status).to.equal(200);
    // An app that loads the link in the background (an image, a prefetch) signs nobody out.
    await b.get('/logout');
    expect((await b.get('/account')).status).to.equal(200);
  });

  it('the button signs out and returns to rd', async () => {
    const b = await signedIn();
    const page = await b.get(`/logout?rd=${encodeURIComponent(APP)}`);
    const out = await b.post('/logout', { _csrf: hidden(page.text, '_csrf') as string, rd: hidden(page.text, 'rd') as string });
    expect(out.status).to.equal(303);
    expect(out.location).to.equal(APP);
    expect(liveSessions()).to.equal(0);
    expect((await b.get('/account')).location).to.equal('/login');
  });

  it('a path of the portal itself is a fine rd; without rd the login page says "signed out"', async () => {
    const b = await signedIn();
    const page = await b.get('/logout?rd=%2Flogin');
    expect(hidden(page.text, 'rd')).to.equal('/login');
    expect((await b.post('/logout', { _csrf: hidden(page.text, '_csrf') as string, rd: '/login' })).location).to.equal('/login');
    const c = await signedIn();
    const plain = await c.get('/logout');
    expect(hidden(plain.text, 'rd')).to.equal(undefined);
    expect((await c.post('/logout', { _csrf: hidden(plain.text, '_csrf') as string })).location).to.equal('/login?notice=signed_out');
  });

  it('never follows an unsafe rd: the page drops it and the sign-out lands on the login page', async () => {
    for (const rd of UNSAFE) {
      const b = await signedIn();
      const page = await b.get(`/logout?rd=${encodeURIComponent(rd)}`);
      expect(page.status, rd).to.equal(200);
      expect(hidden(page.text, 'rd'), rd).to.equal(undefined);
      expect(page.text, rd).not.to.contain('evil');
      // A form posted with the unsafe rd (not the page's) signs out but goes to the login page.
      const out = await b.post('/logout', { _csrf: hidden(page.text, '_csrf') as string, rd });
      expect(out.status, rd).to.equal(303);
      expect(out.location, rd).to.equal('/login?notice=signed_out');
    }
  });

  it('a signed-out visitor goes on to a safe rd, else to the login page', async () => {
    const b = new Browser(app.url, HTTPS);
    const safe = await b.get(`/logout?rd=${encodeURIComponent(APP)}`);
    expect(safe.status).to.equal(303);
    expect(safe.location).to.equal(APP);
    expect((await b.get('/logout')).location).to.equal('/login');
    for (const rd of UNSAFE) expect((await b.get(`/logout?rd=${encodeURIComponent(rd)}`)).location, rd).to.equal('/login');
    // Repeated rd parameters are not a string: ignored.
    expect((await b.get(`/logout?rd=${encodeURIComponent(APP)}&rd=x`)).location).to.equal('/login');
    // The form posted again after signing out (a second tab) also just goes on.
    const token = await b.csrf('/login');
    expect((await b.post('/logout', { _csrf: token, rd: APP })).location).to.equal(APP);
    expect((await b.post('/logout', { _csrf: token, rd: 'https://evil.example/' })).location).to.equal('/login');
    expect(liveSessions()).to.equal(0);
  });

  it('a sign-out without the page’s CSRF token is refused and the session lives on', async () => {
    const b = await signedIn();
    const out = await b.post('/logout', { rd: APP });
    expect(out.status).to.equal(403);
    expect((await b.get('/account')).status).to.equal(200);
  });
});
