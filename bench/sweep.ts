// Sweep benchmark (issue 24 item 3): the longest forward-auth answer while the session sweep
// marks 300,000 expired pre-login sessions, as an IPv6 /48 under the per-address page budget
// used to leave them (one per cookie-less GET /login). One real gatehouse server (dist/, the
// flags of `npm start`); /auth/verify at a steady rate from this process throughout; the
// sweep is seen from outside by polling the first and the last seeded row through a
// read-only connection (point lookups: the poll must not block this process's event loop,
// which times the answers). Reports figures, not pass/fail. The issue measured 1,026 ms
// (p99 1.6 ms).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { databasePath, openDatabase } from '../src/db/connection.js';
import { hashSessionId } from '../src/sessions/store.js';
import { Latencies, prepareGatehouse, probe, serverScript, startChild, stopChild, verifyHeaders } from './http.js';

const ROWS = 300_000;
/** The bench server sweeps this often, so a sweep falls inside the measured window. */
const SWEEP_INTERVAL_S = 3;
/** The rows expire this long after they are written: after the server's start-up sweep. */
const EXPIRE_AFTER_MS = 12_000;
const CONNECTIONS = 8;
/** Requests per second in all: a steady probe, not a saturating load. */
const RATE = 2000;
const POLL_MS = 20;
const MAX_WAIT_S = 90;

export interface SweepReport {
  rows: number;
  /** How long the sweep took, from the first rows marked to the last (as seen from outside). */
  sweepMs: number;
  during: { answers: number; maxMs: number; p99Ms: number; p50Ms: number };
  outside: { answers: number; maxMs: number; p99Ms: number };
  non2xx: number;
  errors: number;
}

/** Pre-login sessions as GET /login used to store them (a CSRF token each), all expiring together; their first and last rowid. */
function seed(dataDir: string, rows: number): { first: number; last: number } {
  const db = openDatabase(databasePath(dataDir));
  try {
    const insert = db.prepare(`INSERT INTO sessions (id_hash, user_id, data, created_at, last_seen_at, idle_timeout_ms, idle_expires_at, absolute_expires_at)
      VALUES (?, NULL, ?, ?, ?, 900000, ?, ?)`);
    const data = (token: string) => JSON.stringify({ cookie: { originalMaxAge: null, expires: null, secure: true, httpOnly: true, path: '/', sameSite: 'lax' }, csrfToken: token });
    const now = Date.now();
    const expiresAt = now + EXPIRE_AFTER_MS;
    const rowids = db.transaction(() => {
      const ids: number[] = [];
      for (let i = 0; i < rows; i++) ids.push(Number(insert.run(hashSessionId(randomBytes(24).toString('base64url')), data(randomBytes(32).toString('hex')), now, now, expiresAt, now + 7_200_000).lastInsertRowid));
      return ids;
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { first: Math.min(...rowids.slice(0, 1000)), last: Math.max(...rowids.slice(-1000)) };
  } finally {
    db.close();
  }
}

export async function benchSweep(): Promise<SweepReport> {
  // The server under test is the compiled one: build dist/ when it is stale.
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build-if-needed.mjs', import.meta.url))], { stdio: 'inherit' });
  const { dataDir, cookie } = await prepareGatehouse(false);
  try {
    const seeded = seed(dataDir, ROWS);
    const { child, port } = await startChild(serverScript('gatehouse'), [dataDir, JSON.stringify({ session: { sweep_interval: `${SWEEP_INTERVAL_S}s` } })]);
    const reader = openDatabase(databasePath(dataDir), { readonly: true });
    try {
      const url = `http://127.0.0.1:${port}/auth/verify`;
      const headers = verifyHeaders(cookie);
      await probe(url, headers);
      const marked = reader.prepare('SELECT deleted_at IS NOT NULL FROM sessions WHERE rowid = ?').pluck();
      const answers: Array<{ end: number; ms: number }> = [];
      let non2xx = 0;
      const instance = autocannon({ url, connections: CONNECTIONS, overallRate: RATE, duration: MAX_WAIT_S, headers, timeout: 10 });
      instance.on('response', (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) answers.push({ end: performance.now(), ms });
        else non2xx += 1;
      });
      const result = Promise.resolve(instance);
      result.catch(() => {}); // awaited below
      // Watch the sweep from outside: it starts when a seeded row is marked, ends when all
      // are (rows due at the same time are marked in rowid order, in batches or all at once).
      let start = Number.NaN;
      let end = Number.NaN;
      const deadline = performance.now() + MAX_WAIT_S * 1000 - 5000;
      while (performance.now() < deadline) {
        const first = marked.get(seeded.first) === 1;
        const last = marked.get(seeded.last) === 1;
        const t = performance.now();
        if (Number.isNaN(start) && (first || last)) start = t;
        if (first && last) {
          end = t;
          break;
        }
        await sleep(POLL_MS);
      }
      await sleep(2000); // a little "after" for the comparison
      instance.stop();
      const { errors, timeouts } = await result;
      if (Number.isNaN(end)) throw new Error(`the sweep did not finish within ${MAX_WAIT_S} s`);
      // An answer belongs to the sweep when its request was in flight at any time during it.
      const inSweep = (a: { end: number; ms: number }) => a.end >= start - POLL_MS && a.end - a.ms <= end + POLL_MS;
      const during = new Latencies();
      const outside = new Latencies();
      let duringMax = 0;
      let outsideMax = 0;
      let duringCount = 0;
      let outsideCount = 0;
      for (const a of answers) {
        if (inSweep(a)) {
          during.add(a.ms);
          duringMax = Math.max(duringMax, a.ms);
          duringCount += 1;
        } else {
          outside.add(a.ms);
          outsideMax = Math.max(outsideMax, a.ms);
          outsideCount += 1;
        }
      }
      return {
        rows: ROWS,
        sweepMs: end - start,
        during: { answers: duringCount, maxMs: duringMax, p99Ms: during.percentile(99), p50Ms: during.percentile(50) },
        outside: { answers: outsideCount, maxMs: outsideMax, p99Ms: outside.percentile(99) },
        non2xx,
        errors: errors + timeouts,
      };
    } finally {
      reader.close();
      await stopChild(child);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function formatSweep(r: SweepReport): string {
  const out: string[] = [];
  out.push(`Session sweep: /auth/verify at ${RATE} req/s over ${CONNECTIONS} connections while the sweep marks ${r.rows.toLocaleString('en-US')} expired pre-login sessions (one gatehouse server, dist/)`);
  out.push(`sweep (seen from outside): ${(r.sweepMs / 1000).toFixed(2)} s`);
  out.push(`during the sweep: ${r.during.answers} answers, longest ${r.during.maxMs.toFixed(1)} ms, p99 ${r.during.p99Ms.toFixed(2)} ms, p50 ${r.during.p50Ms.toFixed(2)} ms`);
  out.push(`outside it:       ${r.outside.answers} answers, longest ${r.outside.maxMs.toFixed(1)} ms, p99 ${r.outside.p99Ms.toFixed(2)} ms`);
  out.push('Before (issue 24, one UPDATE for every expired row): longest answer 1,026 ms, p99 1.6 ms.');
  if (r.non2xx || r.errors) out.push(`WARNING: /auth/verify answered ${r.non2xx} non-2xx and ${r.errors} errors`);
  out.push('Latencies are autocannon\'s (1 ms resolution); "longest" is the figure the issue reports.');
  return out.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatSweep(await benchSweep()));
}
