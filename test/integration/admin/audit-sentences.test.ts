// The overview and the audit log page say what happened in sentences (who acted, in words)
// instead of event codes and key=value details; the CSV export and the API keep the codes
// and raw details. Creating an API token records the address it was created from.

import { expect } from 'chai';
import { ApiDoc, signedIn as apiSignedIn } from '../../support/openapi.js';
import { GOOD_PASSWORD, signIn, startAdminApp, submit, type AdminApp } from './admin-support.js';
import { recentAudit } from '../../support/audit.js';

/** The "What happened" cells of a page, tags stripped. */
function sentences(page: string): string[] {
  return [...page.matchAll(/<td data-label="What happened">([\s\S]*?)<\/td>/g)].map((m) => (m[1] as string).replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim());
}

describe('admin: the audit log in words', () => {
  let app: AdminApp;
  let handle: string;
  beforeEach(async () => {
    app = await startAdminApp();
    const admin = await signIn(app, 'root');
    await signIn(app, 'alice');
    handle = app.ctx.sessions.list({ userId: app.ctx.users.findByUsername('alice')!.id })[0]!.handle;
    expect((await submit(admin, '/admin/sessions', `/admin/sessions/${handle}/revoke`)).status).to.equal(303);
    for (let i = 0; i < 3; i += 1) app.ctx.audit.loginFailed({ username: 'mallory', ip: '203.0.113.5', reason: 'bad-credentials' });
  });
  afterEach(() => app.close());

  it('the overview lists the latest events as sentences, without codes or key=value details', async () => {
    const admin = await signIn(app, 'root');
    const page = (await admin.get('/admin')).text;
    const said = sentences(page);
    expect(said).to.include(`Session ${handle} of alice was ended by administrator root.`);
    expect(said).to.include('Sign-in failed for mallory: wrong username or password. × 3');
    expect(said.some((s) => /^alice signed in \(session [0-9a-f]{12}\)\.$/.test(s))).to.equal(true);
    expect(page).not.to.match(/by=|reason=|session=|<code>(session-revoked|login-failed|login-succeeded)<\/code>/);
    expect(page).to.contain('<th scope="col">What happened</th>');
  });

  it('the audit page shows sentences and names events in its filter; the filter still sends the code', async () => {
    const admin = await signIn(app, 'root');
    const page = (await admin.get('/admin/audit')).text;
    expect(sentences(page)).to.include(`Session ${handle} of alice was ended by administrator root.`);
    expect(page).not.to.match(/by=|reason=|<code>session-revoked<\/code>/);
    expect(page).to.contain('<option value="login-failed">Sign-in failed</option>');
    const filtered = (await admin.get('/admin/audit?event=session-revoked')).text;
    expect(filtered).to.contain('<option value="session-revoked" selected>Session ended</option>');
    expect(sentences(filtered)).to.deep.equal([`Session ${handle} of alice was ended by administrator root.`]);
  });

  it('the CSV export and the API keep the event codes and the raw details', async () => {
    const admin = await signIn(app, 'root');
    const csv = (await admin.get('/admin/audit.csv?event=session-revoked')).text;
    const [header, row] = csv.trim().split('\n');
    expect(header).to.equal('id,time,event,user_id,username,ip,details,count,last_time');
    expect(row).to.contain(',session-revoked,').and.contain('""by"":""admin:root""').and.contain('""reason"":""revoked""');
    expect(csv).not.to.contain('was ended by administrator');

    const doc = await ApiDoc.fetch(app.url);
    const api = await apiSignedIn(doc, app.url, 'root', GOOD_PASSWORD);
    const res = await api.get('/api/v1/audit?event=session-revoked');
    expect(res.body.entries[0]).to.deep.include({ event: 'session-revoked', user_id: app.ctx.users.findByUsername('alice')!.id });
    expect(res.body.entries[0].details).to.include({ by: 'admin:root', reason: 'revoked', session: handle });
  });

  it('an API token created on the account page or through the API records the address it was created from', async () => {
    const alice = await signIn(app, 'alice');
    const created = await submit(alice, '/account', '/account/tokens', { name: 'nas', scope: 'read', expires_in_days: '30' });
    expect(created.status).to.equal(201);
    const doc = await ApiDoc.fetch(app.url);
    const api = await apiSignedIn(doc, app.url, 'alice', GOOD_PASSWORD);
    expect((await api.post('/api/v1/me/tokens', { name: 'script', scope: 'read', expires_in_days: 30 })).status).to.equal(201);
    const events = recentAudit(app.ctx, 10, 'api-token-created');
    expect(events.map((e) => e.ip)).to.deep.equal(['127.0.0.1', '127.0.0.1']);
    const admin = await signIn(app, 'root');
    const rows = [...(await admin.get('/admin/audit?event=api-token-created')).text.matchAll(/<tr>\s*(<td[\s\S]*?)<\/tr>/g)].map((m) => m[1] as string);
    expect(rows).to.have.length(2);
    expect(rows[0]).to.match(/alice created API token #\d+ \(scope read, expires [^)]+ UTC\) through the API\./);
    expect(rows[1]).to.match(/alice created API token #\d+ \(scope read, expires [^)]+ UTC\)\./);
    for (const r of rows) expect(r).to.contain('<td data-label="Address">127.0.0.1</td>');
  });
});
