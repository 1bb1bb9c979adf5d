// Personal API tokens on /account (shown once, stored hashed, scoped, revocable), the
// "my data" download, and the admin-confirmed deletion request.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import type { Browser } from '../../support/browser.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, GOOD_PASSWORD, type TestApp } from '../../support/harness.js';
import { answerPrompt, promptForm } from '../../support/reauth-prompt.js';
import { signedIn, startAccountApp } from './support.js';
import { recentAudit } from '../../support/audit.js';

const TOKEN = /gth_[A-Za-z0-9_-]{43}/;

async function createToken(b: Browser, fields: Record<string, string>) {
  const token = await b.csrf('/account');
  return b.post('/account/tokens', { _csrf: token, ...fields });
}

/** Every byte SQLite has written: the database file and its write-ahead log. */
function databaseBytes(app: TestApp): string {
  return ['gatehouse.db', 'gatehouse.db-wal']
    .map((f) => join(app.dataDir, f))
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p).toString('latin1'))
    .join('');
}

describe('account: personal API tokens', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startAccountApp();
    await addUser(app.ctx, 'alice');
    await addUser(app.ctx, 'root', { groups: ['admins'] });
  });
  afterEach(() => app.close());

  it('asks for the password again when the sign-in is over 10 minutes old (a stolen cookie cannot mint a token), then creates the token as typed', async () => {
    await app.close();
    const clock = new FakeClock();
    app = await startAccountApp({}, { clock });
    await addUser(app.ctx, 'root', { groups: ['admins'] });
    const b = await signedIn(app, 'root', GOOD_PASSWORD);
    clock.advance(11 * 60_000);
    const res = await createToken(b, { name: 'deliberate', scope: 'admin', expires_in_days: '30' });
    expect(res.status).to.equal(403);
    expect(promptForm(res)?.fields.slice(1)).to.deep.equal([['name', 'deliberate'], ['scope', 'admin'], ['expires_in_days', '30']]);
    expect(TOKEN.test(res.text)).to.equal(false);
    expect(app.ctx.db.prepare('SELECT count(*) FROM api_tokens').pluck().get()).to.equal(0);
    // Through the API with the same cookie: 403 reauth-required, nothing created.
    const csrf = await b.csrf('/account');
    const api = await b.request('POST', '/api/v1/me/tokens', {
      body: JSON.stringify({ name: 'foothold', scope: 'admin', expires_in_days: 366 }),
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
    });
    expect(api.status).to.equal(403);
    expect(JSON.parse(api.text).error.code).to.equal('reauth-required');
    expect(app.ctx.db.prepare('SELECT count(*) FROM api_tokens').pluck().get()).to.equal(0);
    // Confirming the password in the prompt creates the token that was asked for.
    const before = b.cookieHeader();
    const created = await answerPrompt(b, res, GOOD_PASSWORD);
    expect(created.status).to.equal(201);
    expect(TOKEN.test(created.text)).to.equal(true);
    const [row] = app.ctx.tokens.list(app.ctx.users.findByUsername('root')!.id);
    expect(row).to.include({ name: 'deliberate', scope: 'admin' });
    // The confirmation renewed the session ID: the cookie from before is dead.
    expect(b.cookieHeader()).not.to.equal(before);
    expect((await b.get('/account', { cookie: before })).location).to.equal('/login');
    // The page showing the token carries the new session's CSRF token (its sign-out form works).
    expect((await b.post('/logout', { _csrf: /name="_csrf" value="([^"]+)"/.exec(created.text)?.[1] as string })).status).to.equal(303);
    expect((await b.get('/account')).location).to.equal('/login');
  });

  it('shows a new token once (201, no-store, not a redirect) and never on the next page', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const res = await createToken(b, { name: 'backup script', scope: 'read', expires_in_days: '30' });
    expect(res.status).to.equal(201);
    expect(res.location).to.equal(null);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const secret = TOKEN.exec(res.text)?.[0] as string;
    expect(secret).to.be.a('string');
    expect(res.text).to.match(new RegExp(`<input[^>]+value="${secret}"[^>]+readonly`));
    expect(res.text).to.contain('it will not be shown again');

    const info = app.ctx.tokens.authenticate(secret, '127.0.0.1');
    expect(info).to.include({ name: 'backup script', scope: 'read' });
    expect((info?.expiresAt ?? 0) - (info?.createdAt ?? 0)).to.equal(30 * 86_400_000);

    const next = await b.get('/account');
    expect(next.text).not.to.contain(secret);
    expect(next.text).not.to.match(TOKEN);
    expect(next.text).to.contain('backup script').and.contain(`${secret.slice(0, 10)}…`);
    expect(next.text).to.contain('127.0.0.1'); // last used from
  });

  it('stores only a hash: the secret appears nowhere in the database files or the audit log', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const secret = TOKEN.exec((await createToken(b, { name: 'phone', scope: 'write' })).text)?.[0] as string;
    app.ctx.db.pragma('wal_checkpoint(PASSIVE)');
    const bytes = databaseBytes(app);
    expect(bytes).to.contain(secret.slice(0, 10)); // the hint is stored: the files were really read
    expect(bytes).not.to.contain(secret);
    expect(bytes).not.to.contain(secret.slice(10)); // not even the part after the hint
    const hash = createHash('sha256').update(secret).digest('hex');
    expect(app.ctx.db.prepare('SELECT count(*) FROM api_tokens WHERE token_hash = ?').pluck().get(hash)).to.equal(1);
    expect(JSON.stringify(recentAudit(app.ctx, 50))).not.to.contain(secret);
  });

  it('defaults to 90 days and refuses lifetimes outside 1..366 days, empty names and unknown scopes', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const res = await createToken(b, { name: 'default lifetime', scope: 'read' });
    expect(res.status).to.equal(201);
    const [t] = app.ctx.tokens.list(app.ctx.users.findByUsername('alice')?.id as number);
    expect((t?.expiresAt ?? 0) - (t?.createdAt ?? 0)).to.equal(90 * 86_400_000);
    for (const [fields, message] of [
      [{ name: 'x', scope: 'read', expires_in_days: '0' }, 'between 1 and 366 days'],
      [{ name: 'x', scope: 'read', expires_in_days: '367' }, 'between 1 and 366 days'],
      [{ name: 'x', scope: 'read', expires_in_days: '1.5' }, 'between 1 and 366 days'],
      [{ name: 'x', scope: 'read', expires_in_days: 'soon' }, 'between 1 and 366 days'],
      [{ name: '   ', scope: 'read' }, 'Give the token a name.'],
      [{ name: 'x', scope: 'root' }, 'read, write or admin'],
    ] as const) {
      const refused = await createToken(b, fields);
      expect(refused.status, JSON.stringify(fields)).to.equal(400);
      expect(refused.text).to.contain(message);
      expect(refused.text).not.to.match(TOKEN);
    }
    expect(app.ctx.tokens.list(app.ctx.users.findByUsername('alice')?.id as number)).to.have.length(1);
  });

  it('offers and accepts the admin scope only for administrators', async () => {
    const member = await signedIn(app, 'alice', GOOD_PASSWORD);
    const page = await member.get('/account');
    expect(page.text).not.to.contain('<option value="admin"');
    const refused = await createToken(member, { name: 'sneaky', scope: 'admin' });
    expect(refused.status).to.equal(403);
    expect(refused.text).to.contain('Only administrators');
    expect(refused.text).not.to.match(TOKEN);
    expect(app.ctx.tokens.list(app.ctx.users.findByUsername('alice')?.id as number)).to.have.length(0);

    const admin = await signedIn(app, 'root', GOOD_PASSWORD);
    expect((await admin.get('/account')).text).to.contain('<option value="admin"');
    const created = await createToken(admin, { name: 'admin script', scope: 'admin' });
    expect(created.status).to.equal(201);
  });

  it("revokes a token at once, and answers 404 for another user's token", async () => {
    const alice = await signedIn(app, 'alice', GOOD_PASSWORD);
    const secret = TOKEN.exec((await createToken(alice, { name: 'nas', scope: 'read' })).text)?.[0] as string;
    const id = app.ctx.tokens.authenticate(secret, '127.0.0.1')?.id as number;

    const root = await signedIn(app, 'root', GOOD_PASSWORD);
    const other = await root.post(`/account/tokens/${id}/revoke`, { _csrf: await root.csrf('/account') });
    expect(other.status).to.equal(404);
    expect(app.ctx.tokens.authenticate(secret, '127.0.0.1')).not.to.equal(null);

    for (const bad of ['0', '-1', 'abc', '1e3', '99999999999999999999']) {
      expect((await alice.post(`/account/tokens/${bad}/revoke`, { _csrf: await alice.csrf('/account') })).status, bad).to.equal(404);
    }

    const res = await alice.post(`/account/tokens/${id}/revoke`, { _csrf: await alice.csrf('/account') });
    expect(res.status).to.equal(303);
    expect(res.location).to.equal('/account');
    expect(app.ctx.tokens.authenticate(secret, '127.0.0.1')).to.equal(null);
    const page = await alice.get('/account');
    expect(page.text).to.contain('The token &quot;nas&quot; was revoked').and.contain('Revoked ');
    expect(recentAudit(app.ctx, 10).map((e) => e.event)).to.include('api-token-revoked');
  });
});

describe('account: my data and deleting my account', () => {
  let app: TestApp;
  beforeEach(async () => {
    app = await startAccountApp();
    await addUser(app.ctx, 'alice');
  });
  afterEach(() => app.close());

  it('downloads everything about me as a JSON attachment, without hashes, session IDs or token secrets', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const secret = TOKEN.exec((await createToken(b, { name: 'script', scope: 'read' })).text)?.[0] as string;
    const res = await b.get('/account/data');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-disposition')).to.match(/^attachment; filename="?gatehouse-alice-data\.json"?$/);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const data = JSON.parse(res.text) as { profile: { username: string }; sessions: unknown[]; api_tokens: unknown[]; audit_events: Array<{ event: string }> };
    expect(data.profile.username).to.equal('alice');
    expect(data.sessions.length).to.be.at.least(1);
    expect(data.api_tokens).to.have.length(1);
    expect(data.audit_events.map((e) => e.event)).to.include('login-succeeded').and.include('api-token-created');

    const sid = /^s:([^.]+)\./.exec(decodeURIComponent(b.cookies.get('gatehouse') as string))?.[1] as string;
    expect(sid).to.be.a('string');
    expect(res.text).not.to.contain(sid);
    expect(res.text).not.to.contain(createHash('sha256').update(sid).digest('hex'));
    expect(res.text).not.to.contain(secret);
    expect(res.text).not.to.contain('$argon2');
    expect(res.text).not.to.match(/password_hash|token_hash/);
    expect(recentAudit(app.ctx, 5).map((e) => e.event)).to.include('personal-data-exported');
  });

  it('audits each download once, and a HEAD request not at all', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    expect((await b.request('HEAD', '/account/data')).status).to.equal(200);
    expect(recentAudit(app.ctx, 20, 'personal-data-exported')).to.have.length(0);
    await b.get('/account/data');
    expect(recentAudit(app.ctx, 20, 'personal-data-exported')).to.have.length(1);
  });

  it('asks for the current password to request deletion, shows the pending state, and cancels', async () => {
    const b = await signedIn(app, 'alice', GOOD_PASSWORD);
    const wrong = await b.post('/account/delete-request', { _csrf: await b.csrf('/account'), current_password: 'definitely not it' });
    expect(wrong.status).to.equal(403);
    expect(wrong.text).to.contain('That is not your current password.');
    expect(app.ctx.users.findByUsername('alice')?.deletionRequestedAt).to.equal(null);

    const ok = await b.post('/account/delete-request', { _csrf: await b.csrf('/account'), current_password: GOOD_PASSWORD });
    expect(ok.status).to.equal(303);
    expect(app.ctx.users.findByUsername('alice')?.deletionRequestedAt).to.be.a('number');
    const pending = await b.get('/account');
    expect(pending.text).to.contain('Your request to delete your account was sent.');
    expect(pending.text).to.contain('Deletion requested on').and.contain('Cancel the request');
    expect(recentAudit(app.ctx, 5).map((e) => e.event)).to.include('account-deletion-requested');

    const cancel = await b.post('/account/delete-request/cancel', { _csrf: await b.csrf('/account') });
    expect(cancel.status).to.equal(303);
    expect(app.ctx.users.findByUsername('alice')?.deletionRequestedAt).to.equal(null);
    const after = await b.get('/account');
    expect(after.text).to.contain('the request was cancelled').and.contain('Ask to delete my account');
    expect(recentAudit(app.ctx, 5).map((e) => e.event)).to.include('account-deletion-cancelled');
  });
});
