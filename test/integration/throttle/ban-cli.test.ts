// `gatehouse ban list` and `gatehouse ban lift <ip|user>`: the real bin/gatehouse.js as a
// child process on a temporary data dir, including a lift that a running server obeys at once.

import { rmSync } from 'node:fs';
import { expect } from 'chai';
import { createContext } from '../../../src/context.js';
import type { Ban } from '../../../src/throttle/regulator.js';
import { Browser } from '../../support/browser.js';
import { buildOnce, gatehouse, initDataDir } from '../../support/cli.js';
import { addUser, GOOD_PASSWORD, startApp, tempDir, testConfig, type TestApp } from '../../support/harness.js';
import { recentAudit } from '../../support/audit.js';



/** Bans 203.0.113.9 and locks alice (two failures reach both limits) in `dir`'s database. */
function seedBans(dir: string): void {
  const ctx = createContext(testConfig(dir, { throttle: { max_failures_per_ip: 2, max_failures_per_user: 2, backoff_after: 10 } }));
  try {
    for (let i = 0; i < 2; i++) {
      const verdict = ctx.regulator.check('203.0.113.9', 'alice');
      if (!verdict.allowed) throw new Error('seeding was throttled');
      verdict.attempt.failed();
    }
  } finally {
    ctx.close();
  }
}

describe('gatehouse ban (real command in a child process)', function () {
  this.timeout(20_000);

  before(function () {
    this.timeout(180_000);
    buildOnce();
  });

  let dir: string;
  let app: TestApp | null = null;
  beforeEach(() => {
    dir = tempDir('gatehouse-ban-cli-');
    initDataDir(dir);
  });
  afterEach(async () => {
    await app?.close({ remove: false });
    app = null;
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists nothing on a fresh database', async () => {
    const res = await gatehouse(dir, ['ban', 'list']);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout.trim()).to.equal('no active bans or locks');
  });

  it('lists active bans and locks as a table and as JSON', async () => {
    seedBans(dir);
    const table = await gatehouse(dir, ['ban', 'list']);
    expect(table.code, table.stderr).to.equal(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^SCOPE\s+ADDRESS\s+USER\s+UNTIL \(UTC\)\s+BANS\s+CAUSE$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 3)).sort()).to.deep.equal([
      ['ip', '203.0.113.9', '-'],
      ['user', '-', 'alice'],
    ]);
    const json = await gatehouse(dir, ['ban', 'list', '--json']);
    const bans = JSON.parse(json.stdout) as Ban[];
    expect(bans.map((b) => [b.scope, b.ip, b.username, b.count, b.cause]).sort()).to.deep.equal([
      ['ip', '203.0.113.9', null, 1, 'failures'],
      ['user', null, 'alice', 1, 'failures'],
    ]);
    expect(bans[0]?.until).to.be.greaterThan(Date.now());
  });

  it('lifts by IP or username, says when nothing matched (exit 1), and refuses nonsense (exit 2)', async () => {
    seedBans(dir);
    const byIp = await gatehouse(dir, ['ban', 'lift', '203.0.113.9']);
    expect(byIp.code, byIp.stderr).to.equal(0);
    expect(byIp.stdout).to.match(/^lifted: address 203\.0\.113\.9 \(until .+ UTC\)$/m);
    expect(byIp.stdout).to.contain('cleared 2 failure counter(s) for 203.0.113.9');

    const again = await gatehouse(dir, ['ban', 'lift', '203.0.113.9']);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('nothing to lift: no ban, lock or failure counter for 203.0.113.9');

    const byUser = await gatehouse(dir, ['ban', 'lift', 'ALICE']);
    expect(byUser.code, byUser.stderr).to.equal(0);
    expect(byUser.stdout).to.match(/^lifted: username \(for unknown addresses\) alice/m);
    expect((await gatehouse(dir, ['ban', 'list'])).stdout.trim()).to.equal('no active bans or locks');

    const nonsense = await gatehouse(dir, ['ban', 'lift', '192.0.2.0/24']);
    expect(nonsense.code).to.equal(2);
    expect(nonsense.stderr).to.contain('neither an IP address nor a username');
    expect((await gatehouse(dir, ['ban', 'lift'])).code, 'missing argument').to.equal(2);
  });

  it('lifts a lock that a running server then obeys at once, and audits who lifted it', async () => {
    app = await startApp({ dataDir: dir, config: { throttle: { backoff_after: 10 } } });
    await addUser(app.ctx, 'alice');
    const from = (ip: string) => new Browser((app as TestApp).url, { 'x-forwarded-for': ip, 'x-forwarded-proto': 'https' });
    for (let i = 1; i <= 5; i++) expect((await from(`203.0.113.${i}`).login('alice', 'wrong password here!!')).status).to.equal(401);
    expect((await from('198.51.100.1').login('alice', GOOD_PASSWORD)).status).to.equal(429);

    const res = await gatehouse(dir, ['ban', 'lift', 'alice']);
    expect(res.code, res.stderr).to.equal(0);
    expect((await from('198.51.100.1').login('alice', GOOD_PASSWORD)).status).to.equal(303);
    const lifted = recentAudit(app.ctx, 5, 'ban-lifted')[0];
    expect(lifted).to.deep.include({ username: 'alice', ip: null });
    expect(lifted?.details.by).to.match(/^cli:/);
  });
});
