// Passwords, session IDs and cookies never reach the log or the audit table, while every
// authentication event is audited with user, IP and outcome.

import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../../src/lib/log.js';
import { Browser } from '../../support/browser.js';
import { addUser, GOOD_PASSWORD, startApp, type TestApp } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';

describe('audit and logs', () => {
  let app: TestApp;
  let logs = '';
  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs += chunk.toString();
        done();
      },
    });
    app = await startApp({ log: createLogger('trace', sink) });
    await addUser(app.ctx, 'alice');
  });
  after(() => app.close());

  it('audits sign-in, failure and sign-out with user, IP and outcome, and leaks no secret', async () => {
    const wrong = 'Tr0ub4dor&3-but-wrong';
    const b = new Browser(app.url, { 'x-forwarded-for': '198.51.100.23', 'x-forwarded-proto': 'https' });
    await b.login('alice', wrong);
    await b.login('alice', GOOD_PASSWORD);
    const cookie = b.cookies.get('__Host-gatehouse') as string;
    const rawId = decodeURIComponent(cookie).slice(2).split('.')[0] as string;
    await b.logout();

    const events = recentAudit(app.ctx, 10).reverse();
    const byEvent = (e: string) => events.find((x) => x.event === e);
    expect(byEvent('login-failed')).to.deep.include({ username: 'alice', ip: '198.51.100.23' });
    expect(byEvent('login-succeeded')).to.deep.include({ username: 'alice', ip: '198.51.100.23' });
    expect(byEvent('logout')).to.deep.include({ username: 'alice', ip: '198.51.100.23' });

    const audit = JSON.stringify(app.ctx.db.prepare('SELECT * FROM audit_log').all());
    for (const secret of [wrong, GOOD_PASSWORD, rawId, cookie]) {
      expect(audit, 'audit table').not.to.contain(secret);
      expect(logs, 'log output').not.to.contain(secret);
    }
    expect(logs).to.contain('signed in');
  });

  it('keeps a hostile username from forging log lines or audit fields', async () => {
    const res = await new Browser(app.url).login('alice\n{"level":30,"msg":"forged"}', 'whatever it is here');
    expect(res.status).to.equal(400);
    expect(logs).not.to.match(/^\{"level":30,"msg":"forged"\}$/m);
    const row = recentAudit(app.ctx, 1)[0];
    expect(row).to.deep.include({ event: 'login-failed', details: { reason: 'invalid-input' } });
  });
});
