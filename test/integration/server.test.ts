// The real server process: first-run link, health, sessions that survive a restart,
// graceful SIGTERM, and configuration errors reported together with exit status 2.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import { packageRoot } from '../../src/lib/paths.js';
import { Browser } from '../support/browser.js';
import { createContext } from '../../src/context.js';
import { GOOD_PASSWORD, tempDir, testConfig } from '../support/harness.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function startServer(env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(packageRoot, 'dist', 'server.js')], {
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_HOST: '127.0.0.1', GATEHOUSE_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  while (!output.includes('gatehouse listening')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}

describe('the server process', function () {
  this.timeout(120_000);
  before(() => {
    execFileSync(process.execPath, [join(packageRoot, 'scripts', 'build-if-needed.mjs')], { stdio: 'inherit' });
  });

  it('prints a setup link on first run, keeps sessions across a restart, and stops cleanly on SIGTERM', async () => {
    const dataDir = tempDir();
    const first = await startServer({ GATEHOUSE_DATA_DIR: dataDir });
    const link = /(http:\/\/\S+\/setup\?token=[A-Za-z0-9_-]+)/.exec(first.output())?.[1];
    expect(link, first.output()).to.be.a('string');
    expect(first.output()).not.to.match(/password/i);

    const b = new Browser(first.url);
    const token = await b.csrf(new URL(link as string).pathname + new URL(link as string).search);
    const created = await b.post('/setup', { _csrf: token, token: new URL(link as string).searchParams.get('token') as string, username: 'pat', password: GOOD_PASSWORD, password_confirm: GOOD_PASSWORD });
    expect(created.status).to.equal(303);
    expect((await b.login('pat', GOOD_PASSWORD)).status).to.equal(303);
    expect((await b.get('/healthz')).status).to.equal(200);

    first.child.kill('SIGTERM');
    expect(await first.exited).to.equal(0);
    expect(first.output()).to.contain('stopped');

    // Same data dir: no new setup link, same cookie key, the session is still valid.
    const second = await startServer({ GATEHOUSE_DATA_DIR: dataDir });
    expect(second.output()).not.to.contain('/setup?token=');
    const again = new Browser(second.url);
    for (const [k, v] of b.cookies) again.cookies.set(k, v);
    // The setup account is an administrator, and two_factor.required_for_groups defaults to
    // [admins]: the live session is sent to enrollment (a dead one would go to /login).
    const home = await again.get('/');
    expect(home.status).to.equal(303);
    expect(home.location).to.equal('/account/two-factor');
    second.child.kill('SIGINT');
    expect(await second.exited).to.equal(0);
  });

  it('under systemd puts no setup link in the journal, only how to get one', async () => {
    const dataDir = tempDir();
    const server = await startServer({ GATEHOUSE_DATA_DIR: dataDir, INVOCATION_ID: '0123456789abcdef0123456789abcdef' });
    try {
      // The hint follows the "listening" line; give it a moment to arrive.
      for (let i = 0; i < 40 && !server.output().includes('gatehouse setup-link'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(server.output()).to.contain('gatehouse setup-link');
      expect(server.output()).not.to.contain('/setup?token=');
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).to.equal(0);
    }
    const ctx = createContext(testConfig(dataDir));
    try {
      expect(ctx.db.prepare('SELECT count(*) FROM setup_tokens').pluck().get(), 'no token issued for nobody to see').to.equal(0);
    } finally {
      ctx.close();
    }
  });

  it('exits 2 and lists every configuration problem together', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.yml');
    writeFileSync(file, 'server:\n  port: 99999\nsession:\n  inactivity: forever\nbogus: 1\n');
    const child = spawn(process.execPath, [join(packageRoot, 'dist', 'server.js')], {
      env: { PATH: process.env.PATH ?? '', GATEHOUSE_CONFIG: file, GATEHOUSE_DATA_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).to.equal(2);
    expect(stderr).to.contain('server.port').and.contain('session.inactivity').and.contain('bogus');
    expect(stderr).not.to.match(/\n\s+at /); // no stack trace
  });
});
