// Login-storm benchmark (issue 4): /auth/verify under autocannon load, alone and while a
// storm of bad-password sign-ins runs, against one real gatehouse server (dist/, the flags
// of `npm start`, the default argon2 parameters m=19456 KiB t=2 p=1 and the default
// throttle and hash gate). Reports figures, not pass/fail.
//
// The sign-ins come from a second child process (this file with --storm-client), so their
// client work does not weigh on the event loop that measures the verify latencies. Every
// sign-in attempt uses a fresh random username and a fresh X-Forwarded-For address from
// the 198.18.0.0/15 benchmark range (the loopback peer is a trusted proxy by default), as
// a botnet would: each regulator counter then sees one failure, under every limit, so the
// attempts are not refused by the throttle (429) but reach argon2 (401) or the full hash
// queue (503). Unknown usernames cost the same argon2 run (the dummy hash, made with the
// server's parameters) as known ones.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import argon2 from 'argon2';
import autocannon from 'autocannon';
import { configSchema } from '../src/config/schema.js';
import {
  CLOCK_TICKS,
  cpuTicks,
  Latencies,
  machineBusyTicks,
  memoryKb,
  prepareGatehouse,
  probe,
  sampleRss,
  serverScript,
  startChild,
  stopChild,
  verifyHeaders,
} from './http.js';

const VERIFY_CONNECTIONS = 32;
/** The hash gate the server runs with: the config defaults on this machine. */
const GATE = (() => {
  const t = configSchema.parse({}).throttle;
  return { running: t.max_concurrent_hashes, queued: t.max_queued_hashes };
})();
const WARMUP_S = 2;
const MEASURE_S = 6;
/** The verify load opens its connections this long before the storm starts, */
const CONNECT_MS = 300;
/** and is measured once the storm has run this long (the hash queue is full by then). */
const RAMP_MS = 1000;
/** Opened halfway through each measured window: how long a proxy's new connections wait. */
const FRESH_CONNECTIONS = 8;
const STORM_CLIENT_TIMEOUT_MS = 60_000;
const SIGNIN_TIMEOUT_MS = 30_000;

interface StormSpec {
  name: string;
  workers: number;
  /** A worker answered 503 (hash queue full) waits this long before its next attempt. */
  pauseAfterBusyMs: number;
}

// B: the "50 concurrent bad logins". 50 is more than the gate holds (1-2 hashing +
// 32 queued), so some are always refused; those clients wait 1 s before their next try
// (no tight loop, that is phase C), so most attempts reach argon2.
// C: 200 clients retrying at once: the gate must refuse the excess fast.
const STORMS: StormSpec[] = [
  { name: 'B: + 50 concurrent bad sign-ins', workers: 50, pauseAfterBusyMs: 1000 },
  { name: 'C: + 200 concurrent bad sign-ins, no pause', workers: 200, pauseAfterBusyMs: 0 },
];

export interface StormResult {
  workers: number;
  seconds: number;
  /** Answers by kind: 401 reached argon2; 429 throttled; 503 busy = hash queue full. */
  counts: { unauthorized: number; throttled: number; busy: number; other: number; errors: number };
  /** Sign-in latency over all answers, and of the 401s and busy 503s apart (ms). */
  allP50: number;
  allP99: number;
  hashedP50: number;
  hashedP99: number;
  busyP50: number;
  busyP99: number;
  /** Examples of unexpected answers, for the report. */
  otherSamples: string[];
}

export interface PhaseResult {
  name: string;
  verifyReqPerSec: number;
  verifyP50: number;
  verifyP99: number;
  verifyNon2xx: number;
  verifyErrors: number;
  /** Time until FRESH_CONNECTIONS new connections opened at once all had their answer (ms). */
  freshMs: number;
  /** Highest VmRSS sampled during the phase (storm ramp included). */
  rssMaxMb: number;
  /** CPU during the measured window, 100 % = one core: the server's main (event-loop) thread, */
  serverMainCpu: number;
  /** its other threads (argon2 runs on the libuv pool), */
  serverThreadsCpu: number;
  /** the verify load generator (this process), the storm client, and the rest of the machine. */
  verifyLoaderCpu: number;
  stormLoaderCpu: number;
  otherCpu: number;
  storm?: StormResult;
}

export interface LoginStormReport {
  phases: PhaseResult[];
  /** VmRSS after the last storm and a few idle seconds, and VmHWM over the server's life. */
  rssAfterMb: number;
  rssPeakMb: number;
  /** One argon2id hash with the default parameters on this machine, idle (ms). */
  hashMs: number;
  /** Wall time of the whole benchmark. */
  seconds: number;
}

// ---- the storm client (child process) --------------------------------------------------

interface Prepared {
  cookie: string;
  csrf: string;
}

interface Answer {
  status: number;
  body: string;
}

function send(port: number, agent: Agent, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer & { setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers, timeout: SIGNIN_TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < 8192) text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, setCookie: res.headers['set-cookie'] ?? [] }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${SIGNIN_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** 198.18.0.0/15 (RFC 2544, benchmarking): 131,072 addresses. */
function benchAddress(n: number): string {
  if (n < 0 || n >= 1 << 17) throw new RangeError('out of benchmark addresses');
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

const proxied = (ip: string) => ({ 'X-Forwarded-For': ip, 'X-Forwarded-Proto': 'https', 'User-Agent': 'gatehouse-login-storm' });

/** GET /login as a browser would: the form's CSRF token and its cookie (no session is stored). */
async function prepareSignIn(port: number, agent: Agent, ip: string): Promise<Prepared> {
  const res = await send(port, agent, 'GET', '/login', proxied(ip));
  const csrf = /name="_csrf" value="([^"]+)"/.exec(res.body)?.[1];
  const cookie = res.setCookie.map((c) => c.split(';')[0] as string).find((c) => /^__Host-gatehouse_csrf=/.test(c));
  if (res.status !== 200 || !csrf || !cookie) throw new Error(`GET /login answered ${res.status} without a form token or its cookie: ${res.body.slice(0, 300)}`);
  return { cookie, csrf };
}

async function stormClient(port: number, workers: number, seconds: number, pauseAfterBusyMs: number, firstAddress: number): Promise<void> {
  let nextAddress = firstAddress;
  const lastAddress = Math.min(firstAddress + 60_000, 1 << 17);
  const address = () => {
    if (nextAddress >= lastAddress) throw new Error('out of benchmark addresses');
    return benchAddress(nextAddress++);
  };
  const agents = Array.from({ length: workers }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const prepared: Prepared[] = [];
  for (let i = 0; i < workers; i += 25) {
    prepared.push(...(await Promise.all(agents.slice(i, i + 25).map((agent) => prepareSignIn(port, agent, address())))));
  }
  process.stdout.write('ready\n');
  // "go" on stdin starts the storm; stdin closing first means the parent is gone.
  const stdin = createInterface({ input: process.stdin });
  const quit = () => process.exit(1);
  stdin.once('close', quit);
  await new Promise<void>((resolve) => stdin.once('line', () => resolve()));
  stdin.off('close', quit);
  stdin.close();

  const all = new Latencies();
  const hashed = new Latencies();
  const refused = new Latencies();
  const counts = { unauthorized: 0, throttled: 0, busy: 0, other: 0, errors: 0 };
  const otherSamples: string[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async (agent: Agent, { cookie, csrf }: Prepared) => {
    // Bounded by time and by the addresses this phase may use (a fresh one per attempt).
    while (performance.now() < deadline && nextAddress < lastAddress) {
      const body = new URLSearchParams({ _csrf: csrf, username: `storm-${randomBytes(6).toString('hex')}`, password: randomBytes(12).toString('base64url') }).toString();
      const headers = { ...proxied(address()), Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(Buffer.byteLength(body)) };
      const t0 = performance.now();
      let answer: Answer;
      try {
        answer = await send(port, agent, 'POST', '/login', headers, body);
      } catch (err) {
        counts.errors += 1;
        if (otherSamples.length < 3) otherSamples.push(String(err));
        await sleep(100);
        continue;
      }
      const ms = performance.now() - t0;
      all.add(ms);
      if (answer.status === 401) {
        counts.unauthorized += 1;
        hashed.add(ms);
      } else if (answer.status === 429) {
        counts.throttled += 1;
      } else if (answer.status === 503 && answer.body.includes('busy checking other sign-ins')) {
        counts.busy += 1;
        refused.add(ms);
        if (pauseAfterBusyMs > 0) await sleep(pauseAfterBusyMs);
      } else {
        counts.other += 1;
        if (otherSamples.length < 3) otherSamples.push(`${answer.status}: ${answer.body.replace(/\s+/g, ' ').slice(0, 200)}`);
      }
    }
  };
  await Promise.all(agents.map((agent, i) => worker(agent, prepared[i] as Prepared)));
  const result: StormResult = {
    workers,
    seconds: (performance.now() - started) / 1000,
    counts,
    allP50: all.percentile(50),
    allP99: all.percentile(99),
    hashedP50: hashed.percentile(50),
    hashedP99: hashed.percentile(99),
    busyP50: refused.percentile(50),
    busyP99: refused.percentile(99),
    otherSamples,
  };
  for (const agent of agents) agent.destroy();
  process.stdout.write(`result ${JSON.stringify(result)}\n`, () => process.exit(0));
}

// ---- the parent: server, verify load, storm client ------------------------------------

interface StormChild {
  child: ChildProcess;
  /** Starts the storm; resolves with its result once it has run its time. */
  go(): Promise<StormResult>;
}

const stormChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of stormChildren) child.kill('SIGKILL');
});

/** Spawns the storm client and waits until its sign-in forms are fetched. */
async function startStorm(port: number, spec: StormSpec, seconds: number, firstAddress: number): Promise<StormChild> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--storm-client', String(port), String(spec.workers), String(seconds), String(spec.pauseAfterBusyMs), String(firstAddress)];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  stormChildren.add(child);
  child.once('exit', () => stormChildren.delete(child));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 20_000) stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`the storm client exited (${code ?? signal}) early:\n${stderr}`))),
  );
  exited.catch(() => {}); // raced below; not every run waits on it
  const nextLine = (prefix: string) =>
    Promise.race([
      new Promise<string>((resolve) => {
        const onLine = (line: string) => {
          if (!line.startsWith(prefix)) return;
          lines.off('line', onLine);
          resolve(line.slice(prefix.length));
        };
        lines.on('line', onLine);
      }),
      exited,
      sleep(STORM_CLIENT_TIMEOUT_MS).then(() => {
        throw new Error(`the storm client sent no "${prefix.trim()}" within ${STORM_CLIENT_TIMEOUT_MS / 1000} s:\n${stderr}`);
      }),
    ]);
  try {
    await nextLine('ready');
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    go: async () => {
      const result = nextLine('result ');
      child.stdin?.write('go\n');
      return JSON.parse(await result) as StormResult;
    },
  };
}

/**
 * What a proxy opening new upstream connections meets: FRESH_CONNECTIONS new connections
 * at once, one /auth/verify each; the time until the last one is answered (ms).
 */
async function freshConnections(url: string, headers: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: FRESH_CONNECTIONS }, () =>
      new Promise<void>((resolve, reject) => {
        const req = request(url, { headers, agent: false, timeout: 30_000 }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`a fresh connection got ${res.statusCode} from /auth/verify`))));
        });
        req.on('timeout', () => req.destroy(new Error('a fresh connection got no answer within 30 s')));
        req.on('error', reject);
        req.end();
      }),
    ),
  );
  return performance.now() - t0;
}

/** utime + stime of one thread of a process, in clock ticks. */
function threadTicks(pid: number, tid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The median time of one argon2id hash with the schema's default parameters, here, now. */
async function hashTime(): Promise<number> {
  const { memory_kib, iterations, parallelism } = configSchema.parse({}).password.argon2;
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await argon2.hash('gatehouse-login-storm', { type: argon2.argon2id, memoryCost: memory_kib, timeCost: iterations, parallelism });
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[3] as number;
}

export async function benchLoginStorm(): Promise<LoginStormReport> {
  const began = performance.now();
  const hashMs = await hashTime();
  const { dataDir, cookie } = await prepareGatehouse(false);
  const stormsStarted: StormChild[] = [];
  try {
    const { child, port } = await startChild(serverScript('gatehouse'), [dataDir]);
    const pid = child.pid as number;
    try {
      const url = `http://127.0.0.1:${port}/auth/verify`;
      const headers = verifyHeaders(cookie);
      await probe(url, headers);
      await autocannon({ url, connections: VERIFY_CONNECTIONS, duration: WARMUP_S, headers, timeout: 10 });

      const phases: PhaseResult[] = [];
      const phase = async (name: string, storm?: StormChild): Promise<PhaseResult> => {
        const rss = sampleRss(pid);
        try {
          // The verify connections are open before the storm starts (as a reverse proxy's
          // keep-alive pool would be); only the window after the ramp is measured.
          const window = { start: Number.POSITIVE_INFINITY, answers: 0, non2xx: 0, latencies: new Latencies() };
          const instance = autocannon({ url, connections: VERIFY_CONNECTIONS, duration: (CONNECT_MS + RAMP_MS) / 1000 + MEASURE_S, headers, timeout: 10 });
          instance.on('response', (_client, status, _bytes, ms) => {
            if (performance.now() < window.start) return;
            window.answers += 1;
            if (status >= 200 && status < 300) window.latencies.add(ms);
            else window.non2xx += 1;
          });
          const loadDone = Promise.resolve(instance);
          loadDone.catch(() => {}); // awaited below
          await sleep(CONNECT_MS);
          const stormResult = storm?.go();
          stormResult?.catch(() => {}); // awaited below, after the verify load
          await sleep(RAMP_MS);
          const stormPid = storm?.child.pid;
          const ticks = () => ({
            server: cpuTicks(pid),
            main: threadTicks(pid, pid),
            storm: stormPid === undefined ? 0 : cpuTicks(stormPid),
            machine: machineBusyTicks(),
          });
          const start = ticks();
          const ownStart = process.cpuUsage();
          window.start = performance.now();
          const fresh = sleep((MEASURE_S * 1000) / 2).then(() => freshConnections(url, headers));
          const result = await loadDone;
          const wallS = (performance.now() - window.start) / 1000;
          const end = ticks();
          const own = process.cpuUsage(ownStart);
          const pct = (key: keyof typeof start) => ((end[key] - start[key]) / CLOCK_TICKS / wallS) * 100;
          const verifyLoaderCpu = ((own.user + own.system) / 1e6 / wallS) * 100;
          const stormOut = await stormResult;
          const freshMs = await fresh;
          const rssMaxKb = Math.max(rss.max(), memoryKb(pid).rss);
          return {
            name,
            verifyReqPerSec: window.answers / wallS,
            verifyP50: window.latencies.percentile(50),
            verifyP99: window.latencies.percentile(99),
            verifyNon2xx: window.non2xx,
            verifyErrors: result.errors + result.timeouts,
            freshMs,
            rssMaxMb: rssMaxKb / 1024,
            serverMainCpu: pct('main'),
            serverThreadsCpu: pct('server') - pct('main'),
            verifyLoaderCpu,
            stormLoaderCpu: pct('storm'),
            otherCpu: Math.max(0, pct('machine') - pct('server') - verifyLoaderCpu - pct('storm')),
            ...(stormOut ? { storm: stormOut } : {}),
          };
        } finally {
          rss.stop();
        }
      };

      phases.push(await phase('A: /auth/verify alone'));
      let firstAddress = 0;
      for (const spec of STORMS) {
        // The storm runs through the ramp and the measured window, then stops.
        const storm = await startStorm(port, spec, RAMP_MS / 1000 + MEASURE_S + 0.3, firstAddress);
        stormsStarted.push(storm);
        firstAddress += 60_000;
        phases.push(await phase(spec.name, storm));
        await new Promise<void>((resolve) => (storm.child.exitCode !== null ? resolve() : storm.child.once('exit', () => resolve())));
      }
      await sleep(2000);
      const memory = memoryKb(pid);
      return { phases, rssAfterMb: memory.rss / 1024, rssPeakMb: memory.hwm / 1024, hashMs, seconds: (performance.now() - began) / 1000 };
    } finally {
      await stopChild(child);
    }
  } finally {
    for (const storm of stormsStarted) storm.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- report ----------------------------------------------------------------------------

export function formatLoginStorm(report: LoginStormReport): string {
  const out: string[] = [];
  out.push(
    `Login storm: /auth/verify at ${VERIFY_CONNECTIONS} connections (${MEASURE_S} s measured per phase) while bad-password sign-ins run, one gatehouse server (dist/, default argon2 m=19456 KiB t=2 p=1, default hash gate and throttle)`,
  );
  const header = ['phase', 'verify req/s', 'p50 ms', 'p99 ms', `${FRESH_CONNECTIONS} new conns ms`, 'RSS max MB', 'CPU main/pool/verify-gen/storm-gen/other', 'sign-ins 401/429/503/other', 'hashes/s', 'sign-in p50/p99 ms', '401 p50/p99 ms', '503 p50/p99 ms'];
  const ms = (n: number) => (Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(0));
  const lines = report.phases.map((p) => {
    const s = p.storm;
    return [
      p.name,
      Math.round(p.verifyReqPerSec).toLocaleString('en-US'),
      p.verifyP50.toFixed(2),
      p.verifyP99.toFixed(2),
      p.freshMs.toFixed(0),
      p.rssMaxMb.toFixed(0),
      [p.serverMainCpu, p.serverThreadsCpu, p.verifyLoaderCpu, p.stormLoaderCpu, p.otherCpu].map((n) => n.toFixed(0)).join('/') + ' %',
      s ? `${s.counts.unauthorized}/${s.counts.throttled}/${s.counts.busy}/${s.counts.other + s.counts.errors}` : '-',
      s ? (s.counts.unauthorized / s.seconds).toFixed(1) : '-',
      s ? `${ms(s.allP50)}/${ms(s.allP99)}` : '-',
      s ? `${ms(s.hashedP50)}/${ms(s.hashedP99)}` : '-',
      s ? `${ms(s.busyP50)}/${ms(s.busyP99)}` : '-',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  out.push(row(header), ...lines.map(row));
  out.push('');
  const [alone] = report.phases;
  for (const p of report.phases.slice(1)) {
    if (alone) out.push(`${p.name.split(':')[0]}: verify p99 ${p.verifyP99.toFixed(2)} ms vs ${alone.verifyP99.toFixed(2)} ms alone, ${((p.verifyReqPerSec / alone.verifyReqPerSec) * 100).toFixed(0)} % of its req/s; RSS max ${p.rssMaxMb.toFixed(0)} MB vs ${alone.rssMaxMb.toFixed(0)} MB`);
  }
  out.push(`one argon2id hash (m=19456 KiB, t=2, p=1) takes ${report.hashMs.toFixed(0)} ms here when idle: the gate's ${GATE.running} slot(s) allow at most ~${((GATE.running * 1000) / report.hashMs).toFixed(0)} hashes/s`);
  out.push(`server RSS 2 s after the last storm: ${report.rssAfterMb.toFixed(0)} MB; peak over its life (VmHWM): ${report.rssPeakMb.toFixed(0)} MB; whole benchmark ${report.seconds.toFixed(0)} s`);
  for (const p of report.phases) {
    const s = p.storm;
    if (p.verifyNon2xx > 0 || p.verifyErrors > 0) out.push(`WARNING: ${p.name}: /auth/verify answered ${p.verifyNon2xx} non-2xx and ${p.verifyErrors} errors`);
    if (!s) continue;
    const total = s.counts.unauthorized + s.counts.throttled + s.counts.busy + s.counts.other + s.counts.errors;
    if (s.counts.throttled + s.counts.other + s.counts.errors > total / 10) out.push(`WARNING: ${p.name}: few sign-ins reached argon2 or the hash gate (401 or 503): the storm measures little.`);
    if (s.otherSamples.length) out.push(`  ${p.name}: unexpected answers, e.g. ${s.otherSamples.join(' | ')}`);
  }
  out.push('Each sign-in: fresh random username and X-Forwarded-For (198.18.0.0/15), CSRF token + its cookie fetched before the storm.');
  out.push(`401 = ran argon2 (bad password); 429 = throttled; 503 = hash queue full (gate: ${GATE.running} hashing + ${GATE.queued} queued); B clients wait 1 s after a 503.`);
  out.push(`CPU (100 % = one core; this machine has ${availableParallelism()}): gatehouse's event-loop thread / its other threads (argon2 on the libuv pool) /`);
  out.push('autocannon (this process) / the storm client / everything else. Target (issue 3): verify p99 <= 5 ms at 32 connections.');
  return out.join('\n');
}

const self = import.meta.url === pathToFileURL(process.argv[1] ?? '').href;
if (self && process.argv[2] === '--storm-client') {
  const [port, workers, seconds, pause, first] = process.argv.slice(3).map(Number) as [number, number, number, number, number];
  await stormClient(port, workers, seconds, pause, first);
} else if (self) {
  console.log(formatLoginStorm(await benchLoginStorm()));
}
