// The real server process stopping and crashing: SIGTERM/SIGINT drain in-flight requests,
// refuse new connections, flush touches, checkpoint the WAL and exit 0; a stuck request is
// cut after server.shutdown_timeout; kill -9 under load loses no acknowledged sign-in or
// sign-out.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { createContext } from '../../../src/context.js';
import { databasePath } from '../../../src/db/connection.js';
import { packageRoot } from '../../../src/lib/paths.js';
import { Browser } from '../../support/browser.js';
import { buildOnce } from '../../support/cli.js';
import { addUser, GOOD_PASSWORD, tempDir, testConfig } from '../../support/harness.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

interface Child {
  child: ChildProcess;
  port: number;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

/** Starts node dist/server.js on a data dir with a config file; resolves once it listens. */
async function startChild(dataDir: string, configYaml: string): Promise<Child> {
  const file = join(dataDir, 'config.yml');
  writeFileSync(file, configYaml);
  const port = await freePort();
  const child = spawn(process.execPath, [join(packageRoot, 'dist', 'server.js')], {
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_CONFIG: file, GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_HOST: '127.0.0.1', GATEHOUSE_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (text: string, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!output.includes(text)) {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) throw new Error(`no "${text}" from the server:\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor('gatehouse listening');
  return { child, port, url: `http://127.0.0.1:${port}`, output: () => output, exited, waitFor };
}

/** A data dir with one user, made through the real domain code (cheap test hash). */
async function dataDirWithUser(usernames = ['pat']): Promise<string> {
  const dir = tempDir('gatehouse-ops-');
  const ctx = createContext(testConfig(dir));
  for (const name of usernames) await addUser(ctx, name);
  ctx.close();
  return dir;
}

function refused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

interface Partial {
  /** Sends the rest of the body. */
  finish(): void;
  response: Promise<{ status: number; headers: IncomingHttpHeaders }>;
  /** Resolves when the connection is gone (answered and closed, or cut). */
  closed: Promise<void>;
}

/** A POST whose body is sent only in part: the request is in flight until finish(). */
function partialPost(port: number, path: string, headers: Record<string, string>, body: string): Partial {
  const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } });
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  const response = new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
    req.once('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.once('error', reject);
  });
  response.catch(() => undefined);
  const closed = new Promise<void>((resolve) => req.once('close', () => resolve()));
  return { finish: () => req.end(body.slice(half)), response, closed };
}

function readDb<T>(dataDir: string, work: (db: Database.Database) => T): T {
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    return work(db);
  } finally {
    db.close();
  }
}

const walSize = (dataDir: string) => {
  const wal = `${databasePath(dataDir)}-wal`;
  return existsSync(wal) ? statSync(wal).size : 0;
};

const BASE_CONFIG = 'log:\n  level: info\nrate_limit:\n  max: 100000\nsession:\n  touch_interval: 30m\n';

describe('server lifecycle (the real process)', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  before(buildOnce);
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('SIGTERM refuses new connections, finishes the request in flight, flushes touches, checkpoints the WAL and exits 0', async () => {
    const dir = await dataDirWithUser();
    dirs.push(dir);
    const server = await startChild(dir, `${BASE_CONFIG}server:\n  shutdown_timeout: 20s\n`);

    // A signed-in session whose latest use is only in memory (touches are coalesced).
    const first = new Browser(server.url);
    expect((await first.login('pat', GOOD_PASSWORD)).status).to.equal(303);
    await new Promise((r) => setTimeout(r, 30));
    expect((await first.get('/')).status).to.equal(200);
    const seenBefore = readDb(dir, (db) => db.prepare('SELECT max(last_seen_at) FROM sessions WHERE user_id IS NOT NULL AND deleted_at IS NULL').pluck().get() as number);

    // A sign-in whose body is still arriving when the signal comes.
    const second = new Browser(server.url);
    const csrf = await second.csrf('/login');
    const body = new URLSearchParams({ _csrf: csrf, username: 'pat', password: GOOD_PASSWORD }).toString();
    const slow = partialPost(server.port, '/login', { cookie: second.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' }, body);
    await new Promise((r) => setTimeout(r, 100));

    server.child.kill('SIGTERM');
    await server.waitFor('stopping: draining connections');
    expect(await refused(server.port)).to.equal('ECONNREFUSED');
    expect(server.child.exitCode).to.equal(null); // still waiting for the sign-in

    slow.finish();
    const answer = await slow.response;
    expect(answer.status).to.equal(303);
    expect(answer.headers.location).not.to.contain('/login');
    expect(answer.headers.connection).to.equal('close');
    expect(await server.exited, server.output()).to.equal(0);
    expect(server.output()).to.contain('"msg":"stopped"');
    expect(server.output()).not.to.contain('cutting the remaining connections');

    expect(walSize(dir), 'WAL checkpointed into the database').to.equal(0);
    const after = readDb(dir, (db) => ({
      seen: db.prepare('SELECT max(last_seen_at) FROM sessions WHERE user_id IS NOT NULL AND deleted_at IS NULL').pluck().get() as number,
      live: db.prepare('SELECT count(*) FROM sessions WHERE user_id IS NOT NULL AND deleted_at IS NULL').pluck().get() as number,
    }));
    expect(after.seen, 'the pending touch was written at shutdown').to.be.greaterThan(seenBefore);
    expect(after.live).to.equal(2);

    // SIGINT too, and the sign-in completed during the drain is a working session.
    const again = await startChild(dir, `${BASE_CONFIG}server:\n  shutdown_timeout: 20s\n`);
    const cookie = (answer.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
    const home = await new Browser(again.url).get('/', { cookie });
    expect(home.status).to.equal(200);
    expect(home.text).to.contain('pat');
    again.child.kill('SIGINT');
    expect(await again.exited, again.output()).to.equal(0);
    expect(walSize(dir)).to.equal(0);
  });

  it('cuts a request that never finishes after server.shutdown_timeout and still exits 0', async () => {
    const dir = await dataDirWithUser();
    dirs.push(dir);
    const server = await startChild(dir, `${BASE_CONFIG}server:\n  shutdown_timeout: 1s\n`);
    const b = new Browser(server.url);
    const csrf = await b.csrf('/login');
    const body = new URLSearchParams({ _csrf: csrf, username: 'pat', password: GOOD_PASSWORD }).toString();
    const stuck = partialPost(server.port, '/login', { cookie: b.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' }, body);
    await new Promise((r) => setTimeout(r, 100));

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited, server.output()).to.equal(0);
    const took = Date.now() - signalled;
    expect(took).to.be.at.least(900).and.below(8000);
    await stuck.closed;
    expect(server.output()).to.contain('cutting the remaining connections');
    expect(walSize(dir)).to.equal(0);
  });

  it('kill -9 under sign-in and sign-out load loses no acknowledged sign-in or sign-out', async () => {
    const users = Array.from({ length: 6 }, (_, n) => `member${n}`);
    const dir = await dataDirWithUser(users);
    dirs.push(dir);
    // One sign-in at a time per user, and the address may have all six in flight (the
    // regulator otherwise answers concurrent attempts with a backoff).
    const config = `${BASE_CONFIG}throttle:\n  backoff_after: 99\n`;
    const server = await startChild(dir, config);
    const live: Array<{ user: string; cookies: Map<string, string> }> = [];
    const ended: Array<{ user: string; cookies: Map<string, string> }> = [];
    let stop = false;

    const worker = async (n: number) => {
      for (let round = 0; !stop; round++) {
        const b = new Browser(server.url);
        try {
          const user = users[n] as string;
          const login = await b.login(user, GOOD_PASSWORD);
          if (login.status !== 303 || login.location?.includes('/login')) throw new Error(`sign-in answered ${login.status} ${login.location}`);
          const cookies = new Map(b.cookies);
          // Every other round of every worker signs out again.
          if ((round + n) % 2 === 0) {
            live.push({ user, cookies });
            continue;
          }
          const logout = await b.logout();
          if (logout.status !== 303) throw new Error(`sign-out answered ${logout.status}`);
          ended.push({ user, cookies });
        } catch (err) {
          // Requests cut by the kill have no answer: they acknowledged nothing.
          if (stop) return;
          throw err;
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, n) => worker(n));
    const deadline = Date.now() + 10_000;
    while ((live.length < 20 || ended.length < 20) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    server.child.kill('SIGKILL');
    await server.exited;
    await Promise.all(workers);
    expect(live.length, 'sign-ins acknowledged before the kill').to.be.at.least(20);
    expect(ended.length, 'sign-outs acknowledged before the kill').to.be.at.least(20);

    const restarted = await startChild(dir, config);
    try {
      for (const { user, cookies } of live) {
        const b = new Browser(restarted.url);
        for (const [k, v] of cookies) b.cookies.set(k, v);
        const home = await b.get('/');
        expect(home.status, 'an acknowledged sign-in still works').to.equal(200);
        expect(home.text).to.contain(user);
      }
      for (const { cookies } of ended) {
        const b = new Browser(restarted.url);
        for (const [k, v] of cookies) b.cookies.set(k, v);
        const home = await b.get('/');
        expect(home.status, 'an acknowledged sign-out stays signed out').to.be.oneOf([302, 303]);
        expect(home.location).to.contain('/login');
      }
    } finally {
      restarted.child.kill('SIGTERM');
      expect(await restarted.exited).to.equal(0);
    }
  });
});
