// HTTP benchmark (issue 3): the same autocannon load against a bare node:http server, the
// stock stack and gatehouse's /auth/verify (small and large session table), each server in
// its own child process so its RSS and CPU are its own. Reports figures, not pass/fail.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { sign } from 'cookie-signature';
import type { SessionData } from 'express-session';
import { createContext, type AppContext } from '../src/context.js';
import { cookieNames, forwardHashOf, forwardToken } from '../src/sessions/cookie.js';
import { lifetimesFor, sessionPolicy } from '../src/sessions/policy.js';
import { hashSessionId } from '../src/sessions/store.js';
import { addUser, tempDir, testConfig } from '../test/support/harness.js';
import { GATEHOUSE_BENCH_RAW } from './servers/gatehouse-config.js';

const CONNECTIONS = 32;
const WARMUP_S = 2;
const MEASURE_S = 8;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const RSS_SAMPLE_MS = 100;
/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
export const CLOCK_TICKS = 100;
const LARGE_DB = { live: 10_000, deleted: 100_000, users: 20 };

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
// Servers run as plain JavaScript under plain node (gatehouse from dist/, as `npm start`
// runs it), so the loader of this TypeScript benchmark does not weigh on any of them.
export const serverScript = (name: string) => fileURLToPath(new URL(`./servers/${name}.mjs`, import.meta.url));

export interface HttpResult {
  name: string;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Highest VmRSS sampled during warm-up and measurement. */
  rssLoadMb: number;
  /** VmHWM at the end of the run: the process's peak RSS over its whole life. */
  rssPeakMb: number;
  /** CPU of the server process during the measured window (100 % = one core). */
  serverCpu: number;
  /** CPU of this (load-generating) process during the measured window. */
  loaderCpu: number;
  /** CPU used by everything else on the machine meanwhile: figures are only comparable when it is low. */
  otherCpu: number;
  non2xx: number;
  errors: number;
}

interface Target {
  name: string;
  script: string;
  args: string[];
  path: string;
  headers: Record<string, string>;
  cleanup(): void;
}

// ---- child processes -------------------------------------------------------------------

const children = new Set<ChildProcess>();
// A crashed benchmark must not leave servers behind.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface Running {
  child: ChildProcess;
  port: number;
}

/** package.json's start script ("VAR=value node <flags> dist/server.js"): its env and node flags. */
function startScript(): { env: Record<string, string>; flags: string[] } {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
  const words = (pkg.scripts.start ?? '').split(' ');
  const env = Object.fromEntries(words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  return { env, flags: words.filter((w) => w.startsWith('--')) };
}

/** Spawns `node <script> <port> ...args` on a free port and waits for its "ready <port>" line. */
export async function startChild(script: string, args: string[]): Promise<Running> {
  const port = await freePort();
  // BENCH_GATEHOUSE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gatehouse servers.
  // The gatehouse server runs with the V8 flags of `npm start` (package.json), plus any given.
  const gatehouse = script.endsWith('gatehouse.mjs');
  const start = startScript();
  const extra = gatehouse ? [...start.flags, ...(process.env.BENCH_GATEHOUSE_NODE_FLAGS ?? '').split(' ').filter(Boolean)] : [];
  const env = gatehouse ? { ...process.env, ...start.env } : process.env;
  const child = spawn(process.execPath, [...extra, script, String(port), ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 20_000) stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} was not ready within ${READY_TIMEOUT_MS / 1000} s:\n${stderr}`));
    }, READY_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (stdout.length < 20_000) stdout += chunk.toString();
      if (new RegExp(`^ready ${port}$`, 'm').test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready:\n${stderr}`));
    });
  });
  return { child, port };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

// ---- /proc sampling --------------------------------------------------------------------

export function memoryKb(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** Busy time of all CPUs (everything but idle and iowait), in clock ticks. */
export function machineBusyTicks(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return total - (fields[3] ?? 0) - (fields[4] ?? 0);
}

/** utime + stime of a process, in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

// ---- load ------------------------------------------------------------------------------

/** One request before the load: the benchmark must measure 200s, not fast refusals. */
export function probe(url: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk.slice(0, 500)));
      res.on('end', () => {
        const user = res.headers['remote-user'];
        if (res.statusCode === 200 && user === 'bench') resolve();
        else reject(new Error(`${url} answered ${res.statusCode} (Remote-User ${String(user)}), expected 200 for user bench: ${body.trim()}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within 5 s`)));
    req.on('error', reject);
  });
}

/** Latencies of 2xx answers with sub-millisecond resolution (autocannon's histogram has 1 ms). */
export class Latencies {
  private values = new Float64Array(1 << 16);
  private count = 0;
  add(ms: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = ms;
  }
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const sorted = this.values.slice(0, this.count).sort();
    return sorted[Math.min(this.count - 1, Math.floor((p / 100) * this.count))] as number;
  }
}

async function load(url: string, headers: Record<string, string>, seconds: number, latencies?: Latencies) {
  const instance = autocannon({ url, connections: CONNECTIONS, duration: seconds, headers, timeout: 10 });
  if (latencies) {
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.add(ms);
    });
  }
  return await instance;
}

async function measure(target: Target): Promise<HttpResult> {
  try {
    return await measureChild(target, await startChild(target.script, target.args));
  } finally {
    target.cleanup();
  }
}

/** Samples a child's VmRSS every RSS_SAMPLE_MS; `max()` is the highest seen, `stop()` ends it. */
export function sampleRss(pid: number): { max(): number; stop(): void } {
  let maxKb = 0;
  const sample = () => {
    try {
      maxKb = Math.max(maxKb, memoryKb(pid).rss);
    } catch {
      // the child is gone; the run reports its errors
    }
  };
  sample();
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  return { max: () => maxKb, stop: () => clearInterval(timer) };
}

async function measureChild(target: Target, { child, port }: Running): Promise<HttpResult> {
  const pid = child.pid as number;
  const rss = sampleRss(pid);
  try {
    const url = `http://127.0.0.1:${port}${target.path}`;
    await probe(url, target.headers);
    await load(url, target.headers, WARMUP_S);
    const latencies = new Latencies();
    const cpuStart = cpuTicks(pid);
    const machineStart = machineBusyTicks();
    const ownStart = process.cpuUsage();
    const wallStart = performance.now();
    const result = await load(url, target.headers, MEASURE_S, latencies);
    const wallS = (performance.now() - wallStart) / 1000;
    const serverCpu = ((cpuTicks(pid) - cpuStart) / CLOCK_TICKS / wallS) * 100;
    const machineCpu = ((machineBusyTicks() - machineStart) / CLOCK_TICKS / wallS) * 100;
    const own = process.cpuUsage(ownStart);
    const loaderCpu = ((own.user + own.system) / 1e6 / wallS) * 100;
    const memory = memoryKb(pid);
    const rssMaxKb = Math.max(rss.max(), memory.rss);
    return {
      name: target.name,
      reqPerSec: result.requests.total / result.duration,
      p50Ms: latencies.percentile(50),
      p99Ms: latencies.percentile(99),
      rssLoadMb: rssMaxKb / 1024,
      rssPeakMb: memory.hwm / 1024,
      serverCpu,
      loaderCpu,
      otherCpu: Math.max(0, machineCpu - serverCpu - loaderCpu),
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    };
  } finally {
    rss.stop();
    await stopChild(child);
  }
}

// ---- fixtures --------------------------------------------------------------------------

/** A signed-in session as the login flow stores it (express-session's JSON of the cookie). */
function signedIn(userId: number, at: number, ip: string, userAgent: string): SessionData {
  return {
    cookie: { originalMaxAge: null, expires: null, secure: true, httpOnly: true, domain: 'home.example', path: '/', sameSite: 'lax' },
    passport: { user: userId },
    auth: { at, ip, userAgent, remember: false },
  } as unknown as SessionData; // Cookie's class shape is not needed by the store
}

const USER_AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
];
const ENDED = ['expired', 'expired', 'expired', 'logout', 'logout', 'revoked', 'password-changed', 'session-limit'] as const;

/**
 * Rows shaped like the store writes them (hashed IDs, session JSON, lifetimes from the
 * policy), in one transaction: live sessions seen in the last minutes, and ended ones from
 * the past four weeks, a tenth of those anonymous pre-login sessions ended by sign-in in the
 * last day. All inside their retention periods, so the start-up sweep keeps every row.
 */
function seedSessions(ctx: AppContext, userIds: number[], live: number, deleted: number): void {
  const policy = sessionPolicy(ctx.config);
  const anonymous = lifetimesFor(policy, { remember: false, signedIn: false });
  const insert = ctx.db.prepare(`
    INSERT INTO sessions (id_hash, user_id, data, bound_ip, user_agent, created_at, last_seen_at, idle_timeout_ms,
                          idle_expires_at, absolute_expires_at, deleted_at, delete_reason)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const now = Date.now();
  const random = (ms: number) => Math.floor(Math.random() * ms);
  ctx.db.transaction(() => {
    for (let i = 0; i < live + deleted; i++) {
      const hash = hashSessionId(randomBytes(24).toString('base64url'));
      const ip = `192.168.${(i >> 8) & 255}.${i & 255}`;
      const ua = USER_AGENTS[i % USER_AGENTS.length] as string;
      const userId = userIds[i % userIds.length] as number;
      if (i < live) {
        const created = now - random(policy.absoluteMs / 2);
        const lastSeen = Math.max(created, now - random(10 * 60_000));
        const data = JSON.stringify(signedIn(userId, created, ip, ua));
        insert.run(hash, userId, data, ip, ua, created, lastSeen, policy.idleMs, lastSeen + policy.idleMs, created + policy.absoluteMs, null, null);
        continue;
      }
      if (i % 10 === 0) {
        const created = now - 3_600_000 - random(20 * 3_600_000);
        const lastSeen = created + random(anonymous.idleMs);
        const data = JSON.stringify({ cookie: { originalMaxAge: null, expires: null, secure: true, httpOnly: true, domain: 'home.example', path: '/', sameSite: 'lax' }, csrfToken: randomBytes(32).toString('hex') });
        insert.run(hash, null, data, null, null, created, lastSeen, anonymous.idleMs, lastSeen + anonymous.idleMs, created + anonymous.absoluteMs, lastSeen, 'regenerated');
        continue;
      }
      const created = now - 3 * 3_600_000 - random(28 * 86_400_000);
      const lastSeen = created + random(3_600_000);
      const reason = ENDED[i % ENDED.length] as string;
      const ended = reason === 'expired' ? lastSeen + policy.idleMs : lastSeen + random(60_000);
      const data = JSON.stringify(signedIn(userId, created, ip, ua));
      insert.run(hash, userId, data, ip, ua, created, lastSeen, policy.idleMs, lastSeen + policy.idleMs, created + policy.absoluteMs, ended, reason);
    }
  })();
}

/** A gatehouse data dir with the real migrations, user "bench" signed in; returns its cookie and an API token. */
export async function prepareGatehouse(large: boolean): Promise<{ dataDir: string; cookie: string; token: string }> {
  const dataDir = tempDir('gatehouse-bench-http-');
  const ctx = createContext(testConfig(dataDir, GATEHOUSE_BENCH_RAW));
  try {
    const user = await addUser(ctx, 'bench', { groups: ['family', 'media'] });
    // express-session's IDs: 24 random bytes, base64url.
    const sid = randomBytes(24).toString('base64url');
    const data = signedIn(user.id, Date.now(), '127.0.0.1', 'Mozilla/5.0 (bench)');
    // Issued as sign-in does; the proxy sends the forward-auth cookie derived from the ID.
    const forward = forwardToken(ctx.secrets.cookieSecret, sid);
    ctx.sessions.succeed({ predecessor: `pre-${sid}`, successor: sid, userId: user.id, data, forwardHash: forwardHashOf(forward), epoch: ctx.sessions.epochOf(user.id) });
    if (large) {
      const others = [];
      for (let i = 1; i < LARGE_DB.users; i++) others.push((await addUser(ctx, `member${i}`)).id);
      seedSessions(ctx, [user.id, ...others], LARGE_DB.live, LARGE_DB.deleted);
    }
    // What the browser sends to a service on the cookie domain: the forward-auth cookie.
    const cookie = `${cookieNames(ctx.config.session).forwardSecure}=${forward}`;
    const { token } = ctx.tokens.create({ userId: user.id, username: 'bench', name: 'bench', scope: 'read', lifetimeMs: 30 * 86_400_000, by: 'bench' });
    return { dataDir, cookie, token };
  } finally {
    ctx.close();
  }
}

// What nginx's auth_request subrequest carries (X-Original-Method is required since the
// method is never guessed).
export const verifyHeaders = (cookie: string) => ({
  'X-Original-URL': 'https://app.home.example/',
  'X-Original-Method': 'GET',
  'X-Forwarded-Proto': 'https',
  Cookie: cookie,
});

async function gatehouseTarget(name: string, large: boolean, credential: 'cookie' | 'token' = 'cookie'): Promise<Target> {
  const { dataDir, cookie, token } = await prepareGatehouse(large);
  const headers: Record<string, string> = verifyHeaders(cookie);
  if (credential === 'token') {
    delete headers.Cookie;
    headers.Authorization = `Bearer ${token}`;
  }
  return {
    name,
    script: serverScript('gatehouse'),
    args: [dataDir],
    path: '/auth/verify',
    headers,
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

function stockTarget(): Target {
  const dir = tempDir('gatehouse-bench-stock-');
  const sid = randomBytes(24).toString('base64url');
  const secret = randomBytes(32).toString('base64url');
  return {
    name: 'stock: express 5 + express-session + connect-sqlite3 + passport',
    script: serverScript('stock'),
    args: [dir, sid, secret],
    path: '/protected',
    headers: { Cookie: `connect.sid=${encodeURIComponent(`s:${sign(sid, secret)}`)}` },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function benchHttp(): Promise<HttpResult[]> {
  // The gatehouse server under test is the compiled one: build dist/ when it is stale.
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build-if-needed.mjs', import.meta.url))], { stdio: 'inherit' });
  const results: HttpResult[] = [];
  results.push(await measure({ name: 'bare node:http (200 + Remote-User)', script: serverScript('bare'), args: [], path: '/', headers: {}, cleanup: () => {} }));
  results.push(await measure(stockTarget()));
  results.push(await measure(await gatehouseTarget('gatehouse /auth/verify', false)));
  results.push(await measure(await gatehouseTarget(`gatehouse /auth/verify, ${LARGE_DB.live / 1000}k live + ${LARGE_DB.deleted / 1000}k deleted sessions`, true)));
  results.push(await measure(await gatehouseTarget('gatehouse /auth/verify with an API token (Bearer)', false, 'token')));
  return results;
}

// ---- report ----------------------------------------------------------------------------

export function formatHttp(rows: HttpResult[]): string {
  const [bare, stock, small, large, token] = rows;
  const out: string[] = [];
  out.push(`HTTP forward-auth, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up + ${MEASURE_S} s measured per server (autocannon in this process, each server in its own child process)`);
  const header = ['server', 'req/s', 'p50 ms', 'p99 ms', 'RSS load MB', 'RSS peak MB', 'server CPU', 'loadgen CPU', 'other CPU', 'non-2xx/err'];
  const mb = (n: number) => n.toFixed(0);
  const lines = rows.map((r) => [
    r.name,
    Math.round(r.reqPerSec).toLocaleString('en-US'),
    r.p50Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    mb(r.rssLoadMb),
    mb(r.rssPeakMb),
    `${r.serverCpu.toFixed(0)} %`,
    `${r.loaderCpu.toFixed(0)} %`,
    `${r.otherCpu.toFixed(0)} %`,
    `${r.non2xx}/${r.errors}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  out.push(row(header), ...lines.map(row));
  if (bare && stock && small && large) {
    const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)} %`;
    out.push('');
    out.push(`gatehouse verify / bare node:http:   ${pct(small.reqPerSec, bare.reqPerSec)} of its req/s`);
    out.push(`gatehouse verify / stock stack:      ${(small.reqPerSec / stock.reqPerSec).toFixed(1)}x`);
    out.push(`large DB / small DB (gatehouse):     ${pct(large.reqPerSec, small.reqPerSec)} of the small-DB req/s`);
    out.push(`gatehouse p99 at ${CONNECTIONS} connections:     ${small.p99Ms.toFixed(2)} ms (small DB), ${large.p99Ms.toFixed(2)} ms (large DB)`);
    out.push(`gatehouse RSS under load, large DB:  ${mb(large.rssLoadMb)} MB (peak VmHWM ${mb(large.rssPeakMb)} MB; bare node:http: ${mb(bare.rssLoadMb)} MB)`);
  }
  if (small && token) out.push(`API token / session cookie (verify): ${((token.reqPerSec / small.reqPerSec) * 100).toFixed(0)} % of the cookie req/s, p99 ${token.p99Ms.toFixed(2)} ms`);
  const failing = rows.filter((r) => r.non2xx > 0 || r.errors > 0);
  if (failing.length) out.push(`WARNING: ${failing.map((r) => r.name).join('; ')} answered non-2xx or failed: their req/s are not comparable.`);
  const busy = rows.filter((r) => r.otherCpu > 20);
  if (busy.length) out.push(`WARNING: other work used ${busy.map((r) => `${r.otherCpu.toFixed(0)} %`).join(', ')} CPU during ${busy.length} of the runs: these figures are not comparable.`);
  out.push(`Targets (issue 3): >= 60 % of bare, >= 8x stock, p99 <= 5 ms at ${CONNECTIONS} connections, large DB >= 90 % of small DB, RSS <= 128 MB.`);
  out.push('RSS counts the whole child process (plain node; gatehouse from dist/). CPU: 100 % = one core; "other" is the rest of');
  out.push('the machine during the measured window (other processes, kernel work not charged to either): compare runs only when it is low.');
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatHttp(await benchHttp()));
}
