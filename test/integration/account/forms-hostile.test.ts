// Every state-changing form of the account pages refuses a missing or wrong CSRF token and
// cross-site requests with 403 and changes nothing; hostile input (arrays, bracket keys,
// huge values, NUL and control characters) gets a clear 4xx, never a 500.

import { expect } from 'chai';
import type { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { FIREFOX, handleFor, IPHONE, signedIn, startAccountApp } from './support.js';

describe('account forms: CSRF, cross-site and hostile input', () => {
  let app: TestApp;
  let laptop: Browser;
  let aliceId: number;
  let tokenId: number;
  let phoneHandle: string;

  /** Everything a form here could change. */
  function state(): string {
    const db = app.ctx.db;
    return JSON.stringify([
      db.prepare('SELECT password_hash, must_change_password, deletion_requested_at FROM users ORDER BY id').all(),
      db.prepare('SELECT substr(id_hash, 1, 12) AS h, deleted_at, delete_reason FROM sessions WHERE user_id IS NOT NULL ORDER BY id_hash').all(),
      db.prepare('SELECT id, revoked_at FROM api_tokens ORDER BY id').all(),
    ]);
  }

  beforeEach(async () => {
    app = await startAccountApp();
    aliceId = (await addUser(app.ctx, 'alice')).id;
    laptop = await signedIn(app, 'alice', GOOD_PASSWORD, FIREFOX);
    await signedIn(app, 'alice', GOOD_PASSWORD, IPHONE);
    phoneHandle = handleFor(app, aliceId, IPHONE);
    tokenId = app.ctx.tokens.create({ userId: aliceId, username: 'alice', name: 'nas', scope: 'read', lifetimeMs: 86_400_000, by: 'test' }).info.id;
  });
  afterEach(() => app.close());

  const forms = (): Array<[string, Record<string, string>]> => [
    ['/account/sessions/revoke-others', {}],
    [`/account/sessions/${phoneHandle}/revoke`, {}],
    ['/account/password', { current_password: GOOD_PASSWORD, new_password: 'a completely new phrase', new_password_confirm: 'a completely new phrase' }],
    ['/account/delete-request', { current_password: GOOD_PASSWORD }],
    ['/account/delete-request/cancel', {}],
    ['/account/tokens', { name: 'new one', scope: 'read', expires_in_days: '10' }],
    [`/account/tokens/${tokenId}/revoke`, {}],
  ];

  it('refuses every form without a CSRF token, or with a wrong one, and changes nothing', async () => {
    app.ctx.accounts.requestDeletion(aliceId, null); // so that "cancel" would change something
    const before = state();
    for (const [path, fields] of forms()) {
      for (const csrf of [undefined, 'x'.repeat(64), '']) {
        const res = await laptop.post(path, csrf === undefined ? fields : { ...fields, _csrf: csrf });
        expect(res.status, `${path} with csrf ${csrf === undefined ? 'missing' : JSON.stringify(csrf.slice(0, 3))}`).to.equal(403);
        expect(res.text).not.to.match(/gth_[A-Za-z0-9_-]{43}/);
      }
    }
    expect(state()).to.equal(before);
  });

  it("refuses another session's CSRF token", async () => {
    const bob = await (async () => {
      await addUser(app.ctx, 'bob');
      return signedIn(app, 'bob', GOOD_PASSWORD);
    })();
    const foreign = await bob.csrf('/account');
    const before = state();
    for (const [path, fields] of forms()) {
      expect((await laptop.post(path, { ...fields, _csrf: foreign })).status, path).to.equal(403);
    }
    expect(state()).to.equal(before);
  });

  it('refuses cross-site requests (Fetch Metadata and Origin) even with a valid token, and changes nothing', async () => {
    const csrf = await laptop.csrf('/account');
    const before = state();
    for (const [path, fields] of forms()) {
      for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'https://evil.example' }, { origin: 'null' }] as Array<Record<string, string>>) {
        const res = await laptop.post(path, { ...fields, _csrf: csrf }, headers);
        expect(res.status, `${path} ${JSON.stringify(headers)}`).to.equal(403);
      }
    }
    expect(state()).to.equal(before);
  });

  it('answers 400 with a clear message for repeated fields, bracket keys, NUL and control characters', async () => {
    const csrf = await laptop.csrf('/account');
    const cases: Array<[string, string, RegExp]> = [
      ['/account/tokens', `name=a&name=b&scope=read`, /single text value/],
      ['/account/tokens', `name[]=a&scope=read`, /token name is missing/],
      ['/account/tokens', `name=${encodeURIComponent('bad\u0000name')}&scope=read`, /control or invisible/],
      ['/account/tokens', `name=${encodeURIComponent('zero\u200bwidth')}&scope=read`, /control or invisible/],
      ['/account/tokens', `name=ok&scope=read&scope=admin`, /read, write or admin/],
      ['/account/tokens', `name=${'n'.repeat(65)}&scope=read`, /too long/],
      ['/account/tokens', `name=ok&scope=read&expires_in_days=${'9'.repeat(40)}`, /too long/],
      ['/account/password', `current_password=a&current_password=b&new_password=x`, /single text value/],
      ['/account/password', `current_password[]=a&new_password=x`, /current password is missing/],
      ['/account/password', `current_password=${encodeURIComponent(GOOD_PASSWORD)}&new_password=${encodeURIComponent('nul inside \u0000 this phrase')}&new_password_confirm=${encodeURIComponent('nul inside \u0000 this phrase')}`, /NUL/],
      ['/account/password', `current_password=${encodeURIComponent(GOOD_PASSWORD)}&new_password=${'p'.repeat(2000)}&new_password_confirm=${'p'.repeat(2000)}`, /at most 256 characters/],
      ['/account/password', `current_password=${encodeURIComponent(GOOD_PASSWORD)}&new_password=${'é'.repeat(300)}&new_password_confirm=${'é'.repeat(300)}`, /at most 256/],
      ['/account/password', `current_password=${encodeURIComponent(GOOD_PASSWORD)}&new_password=fine+phrase+for+now&new_password_confirm=fine+phrase+for+now&rd=%2Fa&rd=%2Fb`, /rd must be a single text value/],
      ['/account/delete-request', `current_password=a&current_password=b`, /single text value/],
    ];
    const before = state();
    for (const [path, body, message] of cases) {
      const res = await laptop.request('POST', path, { body: `_csrf=${csrf}&${body}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(res.status, `${path} ${body.slice(0, 60)}`).to.equal(400);
      expect(res.text, `${path} ${body.slice(0, 60)}`).to.match(message);
    }
    expect(state()).to.equal(before);
  });

  it('answers 413 for huge bodies and too many fields, never 500', async () => {
    const csrf = await laptop.csrf('/account');
    const huge = await laptop.request('POST', '/account/tokens', { body: `_csrf=${csrf}&name=${'x'.repeat(40_000)}&scope=read`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(huge.status).to.equal(413);
    const many = Array.from({ length: 40 }, (_, i) => `f${i}=1`).join('&');
    const fields = await laptop.request('POST', '/account/password', { body: `_csrf=${csrf}&${many}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(fields.status).to.equal(413);
    expect((await laptop.get('/account')).status).to.equal(200);
  });

  it('answers 404, not 500, for odd paths and handles', async () => {
    const csrf = await laptop.csrf('/account');
    for (const path of ['/account/sessions/%00/revoke', '/account/sessions/%E0%A4%A/revoke', '/account/tokens/%00/revoke', `/account/tokens/${'9'.repeat(300)}/revoke`]) {
      const res = await laptop.post(path, { _csrf: csrf });
      expect(res.status, path).to.be.within(400, 404);
    }
    expect(app.ctx.tokens.list(aliceId)[0]?.revokedAt).to.equal(null);
    expect(phoneHandle).to.have.length(12);
  });

  it('ignores query strings on GET pages that could smuggle changes (no state change on GET)', async () => {
    const before = state();
    for (const path of [`/account?revoke=${phoneHandle}`, '/account/password?new_password=x', '/account/data', `/account/tokens/${tokenId}/revoke`, '/account/sessions/revoke-others']) {
      const res = await laptop.get(path);
      expect(res.status, path).to.be.oneOf([200, 404]);
    }
    expect(state()).to.equal(before);
  });
});
