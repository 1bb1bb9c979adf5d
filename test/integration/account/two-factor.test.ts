// Second factors on /account/two-factor through real HTTP: setting up an authenticator app
// (inline QR code, confirm with a code), recovery codes shown once and regenerated, turning
// it off, recent authentication and CSRF on every change, and the 8-character password
// minimum once the account has a second factor.

import { expect } from 'chai';
import { Browser, type Reply } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { codeAt, STEP, wrongCode } from '../../unit/twofactor/support.js';
import { answerPrompt, promptForm } from '../../support/reauth-prompt.js';
import { signedIn, startAccountApp } from './support.js';
import { recentAudit } from '../../support/audit.js';

const RECOVERY_CODE = /<li><code>([0-9a-z]{5}-[0-9a-z]{5})<\/code><\/li>/g;
const MINUTE = 60_000;

/** A form post from the two-factor page, as a browser sends it (CSRF token and Referer). */
async function post(b: Browser, action: string, fields: Record<string, string> = {}): Promise<Reply> {
  const token = await b.csrf('/account/two-factor');
  return b.post(action, { _csrf: token, ...fields }, { referer: new URL('/account/two-factor', b.baseUrl).href });
}

/** The base32 secret shown for typing by hand (groups of four). */
function secretOn(page: Reply): string {
  const m = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(page.text);
  if (!m) throw new Error('no secret on the page');
  return (m[1] as string).replace(/\s/g, '');
}

function recoveryCodesOn(page: Reply): string[] {
  return [...new Set([...page.text.matchAll(RECOVERY_CODE)].map((m) => m[1] as string))];
}

describe('account: two-factor sign-in', () => {
  let app: TestApp;
  let clock: FakeClock;
  let aliceId: number;
  beforeEach(async () => {
    clock = new FakeClock();
    app = await startAccountApp({}, { clock });
    aliceId = (await addUser(app.ctx, 'alice')).id;
  });
  afterEach(() => app.close());

  /** Begins and confirms enrollment through HTTP; returns the secret and the codes page. */
  async function enroll(b: Browser): Promise<{ secret: string; page: Reply }> {
    const begun = await post(b, '/account/two-factor/totp');
    expect(begun.status).to.equal(200);
    const secret = secretOn(begun);
    const page = await post(b, '/account/two-factor/totp/confirm', { code: codeAt(secret, clock.now()) });
    expect(page.status, page.text).to.equal(201);
    clock.advance(3 * STEP);
    return { secret, page };
  }

  it('links the two-factor page from /account with its status', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const account = await b.get('/account');
    expect(account.text).to.match(/Two-factor sign-in<\/dt>\s*<dd>Off · <a href="\/account\/two-factor">Set up<\/a>/);
    await enroll(b);
    const after = await b.get('/account');
    expect(after.text).to.match(/On · 10 recovery codes left · <a href="\/account\/two-factor">Manage<\/a>/);
  });

  it('enrols end to end: inline QR and secret, wrong code refused, right code turns it on, codes shown once', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    expect((await b.get('/account/two-factor')).text).to.contain('Set up an authenticator app');

    const begun = await post(b, '/account/two-factor/totp');
    expect(begun.status).to.equal(200);
    expect(begun.headers.get('cache-control')).to.equal('no-store');
    // The QR code is an inline SVG image; nothing on the page points to another site.
    const img = /<img src="data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)"/.exec(begun.text);
    expect(img, 'inline QR image').to.not.equal(null);
    const svg = Buffer.from(img?.[1] as string, 'base64').toString('utf8');
    expect(svg).to.match(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(begun.text).not.to.match(/(src|href)="(https?:)?\/\//i);
    expect(begun.text).not.to.contain('otpauth://');
    const secret = secretOn(begun);
    expect(secret).to.match(/^[A-Z2-7]{32}$/);
    expect(app.ctx.twoFactor.status(aliceId).totp).to.equal('pending');
    expect(app.ctx.twoFactor.isEnabled(aliceId)).to.equal(false);

    const wrong = await post(b, '/account/two-factor/totp/confirm', { code: wrongCode(secret, clock.now()) });
    expect(wrong.status).to.equal(400);
    expect(wrong.text).to.contain('That code is not right');
    expect(app.ctx.twoFactor.isEnabled(aliceId)).to.equal(false);

    const before = b.cookieHeader();
    const right = await post(b, '/account/two-factor/totp/confirm', { code: codeAt(secret, clock.now()) });
    expect(right.status).to.equal(201);
    // The confirming code was a second factor: the session continues at level 2 under a new ID.
    expect(b.cookieHeader()).not.to.equal(before);
    expect((await new Browser(app.url).get('/account', { cookie: before })).location, 'the old session ID is dead').to.equal('/login');
    expect(right.location).to.equal(null);
    expect(right.headers.get('cache-control')).to.equal('no-store');
    expect(app.ctx.twoFactor.isEnabled(aliceId)).to.equal(true);
    const codes = recoveryCodesOn(right);
    expect(codes).to.have.length(10);
    expect(right.text).to.contain('they will not be shown again');
    expect(right.text).to.contain('<a class="button" href="/account/two-factor">I saved them</a>');

    const next = await b.get('/account/two-factor');
    expect(next.status).to.equal(200);
    for (const c of codes) expect(next.text).not.to.contain(c);
    expect(next.text).to.match(/Recovery codes left<\/dt><dd>10<\/dd>/);
    // A code from the page works once at the second step (the domain's check).
    clock.advance(3 * STEP);
    const alice = { id: aliceId, username: 'alice' };
    expect(app.ctx.twoFactor.verify(alice, codes[0] as string, null)).to.include({ ok: true, method: 'recovery-code' });
    expect(app.ctx.twoFactor.verify(alice, codes[0] as string, null).ok).to.equal(false);
    // Audited, and neither the secret nor a code ever lands in the audit table.
    const events = recentAudit(app.ctx, 20).map((e) => e.event);
    expect(events).to.include.members(['totp-enrollment-started', 'totp-enrolled', 'recovery-codes-generated']);
    const audit = JSON.stringify(app.ctx.db.prepare('SELECT * FROM audit_log').all());
    expect(audit).not.to.contain(secret);
    for (const c of codes) expect(audit).not.to.contain(c);
  });

  it('refuses to begin again while an app is active (409), and a second confirmation', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const { secret } = await enroll(b);
    const again = await post(b, '/account/two-factor/totp');
    expect(again.status).to.equal(409);
    expect(again.text).not.to.contain('data:image/svg+xml');
    const confirm = await post(b, '/account/two-factor/totp/confirm', { code: codeAt(secret, clock.now()) });
    expect(confirm.status).to.equal(409);
    expect(recoveryCodesOn(confirm)).to.have.length(0);
  });

  it('regenerating recovery codes shows ten new ones once; the old ones no longer work', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const { page } = await enroll(b);
    const old = recoveryCodesOn(page);
    const fresh = await post(b, '/account/two-factor/recovery-codes');
    expect(fresh.status).to.equal(201);
    expect(fresh.headers.get('cache-control')).to.equal('no-store');
    const codes = recoveryCodesOn(fresh);
    expect(codes).to.have.length(10);
    expect(codes.some((c) => old.includes(c))).to.equal(false);
    const alice = { id: aliceId, username: 'alice' };
    expect(app.ctx.twoFactor.verify(alice, old[0] as string, null).ok).to.equal(false);
    expect(app.ctx.twoFactor.verify(alice, codes[0] as string, null).ok).to.equal(true);
    expect(app.ctx.twoFactor.status(aliceId).recoveryCodesRemaining).to.equal(9);
  });

  it('refuses recovery codes without an active app (409)', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const res = await post(b, '/account/two-factor/recovery-codes');
    expect(res.status).to.equal(409);
    expect(app.ctx.twoFactor.status(aliceId).recoveryCodesRemaining).to.equal(0);
  });

  it('turning it off removes the app and the codes (audited)', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const { secret } = await enroll(b);
    const res = await post(b, '/account/two-factor/remove');
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/account/two-factor');
    expect(app.ctx.twoFactor.status(aliceId)).to.include({ enabled: false, totp: 'none', recoveryCodesRemaining: 0 });
    const alice = { id: aliceId, username: 'alice' };
    expect(app.ctx.twoFactor.verify(alice, codeAt(secret, clock.now()), null).ok).to.equal(false);
    expect((await b.get('/account/two-factor')).text).to.contain('Two-factor sign-in is off');
    const reset = recentAudit(app.ctx, 10).find((e) => e.event === 'second-factor-reset');
    expect(reset?.details).to.include({ by: 'user:alice' });
  });

  it('cancelling a set-up in progress forgets the secret; the old QR code can no longer be confirmed', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const begun = await post(b, '/account/two-factor/totp');
    const secret = secretOn(begun);
    const pending = await b.get('/account/two-factor');
    expect(pending.text).to.contain('Cancel the set-up');
    expect(pending.text).to.contain('action="/account/two-factor/totp/confirm"');
    const res = await post(b, '/account/two-factor/remove');
    expect(res.location).to.equal('/account/two-factor');
    expect((await b.get('/account/two-factor')).text).to.contain('The set-up was cancelled');
    expect(app.ctx.twoFactor.status(aliceId).totp).to.equal('none');
    const late = await post(b, '/account/two-factor/totp/confirm', { code: codeAt(secret, clock.now()) });
    expect(late.status).to.equal(409);
    expect(app.ctx.twoFactor.isEnabled(aliceId)).to.equal(false);
  });

  it('asks for the password again before beginning, regenerating or turning off when the sign-in is over 10 minutes old', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const { secret } = await enroll(b);
    clock.advance(11 * MINUTE);
    const before = JSON.stringify(app.ctx.twoFactor.status(aliceId));
    for (const action of ['/account/two-factor/recovery-codes', '/account/two-factor/remove']) {
      const res = await post(b, action);
      expect(res.status, action).to.equal(403);
      expect(promptForm(res)?.action, action).to.equal(action);
      expect(recoveryCodesOn(res)).to.have.length(0);
    }
    expect(JSON.stringify(app.ctx.twoFactor.status(aliceId))).to.equal(before);
    expect(app.ctx.twoFactor.verify({ id: aliceId, username: 'alice' }, codeAt(secret, clock.now()), null).ok).to.equal(true);

    // A second account, signed in long ago, cannot begin a set-up either.
    await addUser(app.ctx, 'bob');
    const bob = await signedIn(app, 'bob', GOOD_PASSWORD);
    clock.advance(11 * MINUTE);
    const begin = await post(bob, '/account/two-factor/totp');
    expect(begin.status).to.equal(403);
    expect(begin.text).not.to.contain('data:image');
    // Once the password is confirmed in the prompt, the set-up begins: no second click.
    const begun = await answerPrompt(bob, begin, GOOD_PASSWORD);
    expect(begun.status).to.equal(200);
    expect(begun.text).to.contain('data:image');
  });

  it('refuses every change without a valid CSRF token (403) and changes nothing', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const { secret } = await enroll(b);
    const before = JSON.stringify(app.ctx.twoFactor.status(aliceId));
    const actions = ['/account/two-factor/totp', '/account/two-factor/totp/confirm', '/account/two-factor/recovery-codes', '/account/two-factor/remove'];
    for (const action of actions) {
      for (const fields of [{}, { _csrf: 'forged-token' }] as Record<string, string>[]) {
        const res = await b.post(action, { ...fields, code: codeAt(secret, clock.now()) });
        expect(res.status, action).to.equal(403);
        expect(recoveryCodesOn(res), action).to.have.length(0);
      }
    }
    expect(JSON.stringify(app.ctx.twoFactor.status(aliceId))).to.equal(before);
  });

  it('needs a signed-in session', async () => {
    const page = await new Browser(app.url).get('/account/two-factor');
    expect(page.status).to.equal(303);
    expect(page.location).to.equal('/login');
  });
});

describe('account: password minimum with a second factor', () => {
  let app: TestApp;
  let clock: FakeClock;
  let alice: { id: number; username: string };
  beforeEach(async () => {
    clock = new FakeClock();
    app = await startAccountApp({}, { clock });
    alice = await addUser(app.ctx, 'alice');
  });
  afterEach(() => app.close());

  async function change(b: Browser, next: string): Promise<Reply> {
    const token = await b.csrf('/account/password');
    return b.post('/account/password', { _csrf: token, current_password: GOOD_PASSWORD, new_password: next, new_password_confirm: next });
  }

  async function strength(b: Browser, password: string): Promise<{ acceptable: boolean; problems: string[] }> {
    const token = await b.csrf('/account/password');
    const res = await b.request('POST', '/password/strength', { body: JSON.stringify({ password }), headers: { 'content-type': 'application/json', 'x-csrf-token': token } });
    expect(res.status).to.equal(200);
    return JSON.parse(res.text) as { acceptable: boolean; problems: string[] };
  }

  it('without a second factor, 14 characters are refused (form, meter and minlength say 15)', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    expect((await b.get('/account/password')).text).to.match(/name="new_password"[^>]+minlength="15"/);
    expect((await strength(b, 'quiet mauve fj')).problems.join(' ')).to.contain('Use at least 15 characters');
    const res = await change(b, 'quiet mauve fj');
    expect(res.status).to.equal(400);
    expect(res.text).to.contain('Use at least 15 characters');
  });

  it('with a second factor, 9 characters are accepted (form, meter and minlength say 8); 7 are not', async () => {
    const { secret } = await app.ctx.twoFactor.totp.begin(alice);
    expect(app.ctx.twoFactor.totp.confirm(alice, codeAt(secret, clock.now())).ok).to.equal(true);
    clock.advance(3 * STEP);
    // Once the account has a factor, only a session that passed it may change the password.
    const b = new Browser(app.url);
    expect((await b.login('alice', GOOD_PASSWORD)).location).to.equal('/login/second-factor');
    const step = await b.post('/login/second-factor', { _csrf: await b.csrf('/login/second-factor'), code: codeAt(secret, clock.now()) });
    expect(step.status).to.equal(303);
    expect((await b.get('/account/password')).text).to.match(/name="new_password"[^>]+minlength="8"/);
    expect(await strength(b, 'mauve fjq')).to.include({ acceptable: true });
    expect((await strength(b, 'mauvefj')).problems.join(' ')).to.contain('Use at least 8 characters');
    const seven = await change(b, 'mauvefj');
    expect(seven.status).to.equal(400);
    expect(seven.text).to.contain('Use at least 8 characters');
    const nine = await change(b, 'mauve fjq');
    expect(nine.status, nine.text).to.equal(303);
    expect(await app.ctx.accounts.checkPassword(alice.id, 'mauve fjq')).to.equal(true);
  });
});
