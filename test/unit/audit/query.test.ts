// Reading the audit log: filters, keyset paging, CSV export safe for spreadsheets, anonymising.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { createContext, type AppContext } from '../../../src/context.js';
import { FakeClock } from '../../support/clock.js';
import { tempDir, testConfig } from '../../support/harness.js';

describe('audit log queries', () => {
  let dir: string;
  let ctx: AppContext;
  let clock: FakeClock;
  beforeEach(() => {
    dir = tempDir();
    clock = new FakeClock();
    ctx = createContext(testConfig(dir), { clock });
    // 30 events: alternating users and addresses, one minute apart.
    for (let i = 0; i < 30; i++) {
      const username = i % 2 ? 'alice' : 'bob';
      if (i % 3 === 0) ctx.audit.loginFailed({ username, ip: `192.0.2.${i % 5}`, reason: 'bad-credentials' });
      else ctx.audit.loginSucceeded({ userId: i % 2 ? 1 : 2, username, ip: `192.0.2.${i % 5}`, session: 'abcdefabcdef', remember: false });
      clock.advance(60_000);
    }
  });
  afterEach(() => {
    ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pages newest first without gaps or repeats', () => {
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = ctx.auditLog.page({}, { limit: 7, ...(before !== undefined ? { before } : {}) });
      seen.push(...page.entries.map((e) => e.id));
      if (page.next === null) break;
      before = page.next;
    }
    expect(seen).to.have.length(30);
    expect(seen).to.deep.equal([...seen].sort((a, b) => b - a));
    expect(new Set(seen).size).to.equal(30);
  });

  it('filters by event, username, address and time, combined', () => {
    const start = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(ctx.auditLog.page({ event: 'login-failed' }, { limit: 100 }).entries).to.have.length(10);
    expect(ctx.auditLog.page({ username: 'alice' }, { limit: 100 }).entries.every((e) => e.username === 'alice')).to.equal(true);
    expect(ctx.auditLog.page({ ip: '192.0.2.0' }, { limit: 100 }).entries).to.have.length(6);
    const window = ctx.auditLog.page({ from: start + 10 * 60_000, to: start + 20 * 60_000 }, { limit: 100 }).entries;
    expect(window).to.have.length(10);
    const both = ctx.auditLog.page({ event: 'login-failed', username: 'bob', ip: '192.0.2.0' }, { limit: 100 }).entries;
    expect(both.every((e) => e.event === 'login-failed' && e.username === 'bob' && e.ip === '192.0.2.0')).to.equal(true);
    expect(ctx.auditLog.eventNames()).to.deep.equal(['login-failed', 'login-succeeded']);
  });

  it('exports CSV with a header and neutralises spreadsheet formulas in attacker-typed names', () => {
    ctx.audit.loginFailed({ username: '=HYPERLINK("http://evil")', ip: '192.0.2.9', reason: 'bad-credentials' });
    ctx.audit.loginFailed({ username: '+1+1', ip: '192.0.2.9', reason: 'bad-credentials' });
    const csv = ctx.auditLog.csv({ ip: '192.0.2.9' });
    const lines = csv.trim().split('\n');
    expect(lines[0]).to.equal('id,time,event,user_id,username,ip,details,count,last_time');
    expect(lines).to.have.length(3);
    expect(csv).to.include(`'=HYPERLINK`);
    expect(csv).to.include(`'+1+1`);
    expect(csv).not.to.match(/,=HYPERLINK/);
  });

  it('anonymises a user: their entries keep the id, lose the name, also failed sign-ins that typed it', () => {
    const changed = ctx.auditLog.anonymize(1, 'alice');
    expect(changed).to.equal(15);
    const rows = ctx.auditLog.page({ userId: 1 }, { limit: 100 }).entries;
    expect(rows.length).to.be.greaterThan(0);
    expect(rows.every((e) => e.username === null)).to.equal(true);
    expect(ctx.auditLog.page({ username: 'alice' }, { limit: 100 }).entries).to.have.length(0);
    expect(ctx.auditLog.page({ username: 'bob' }, { limit: 100 }).entries).to.have.length(15);
  });
});
