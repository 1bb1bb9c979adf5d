// Session store micro-benchmark: our SQLite store against connect-sqlite3 (the baseline),
// same operations, same session shapes, one run. Reports ops/s and our/baseline ratios.

import { sha256Hex } from '../src/lib/crypto.js';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import session, { type SessionData, type Store } from 'express-session';
import { createContext } from '../src/context.js';
import { tempDir, testConfig } from '../test/support/harness.js';

const require = createRequire(import.meta.url);
// connect-sqlite3 is CommonJS without types: a factory taking express-session. It resolves
// from bench/node_modules (bench/package.json, installed by `npm run bench`), express-session
// from gatehouse's own node_modules.
const connectSqlite3 = require('connect-sqlite3') as (s: typeof session) => new (options: { dir: string; db: string }) => Store;

const SESSIONS = 2_000;
const DURATION_MS = 1_500;

function sessionData(userId: number): SessionData {
  return {
    cookie: { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000), httpOnly: true, path: '/', secure: true, sameSite: 'lax' },
    passport: { user: userId },
    auth: { at: Date.now(), ip: '192.0.2.10', userAgent: 'Mozilla/5.0 (bench)', remember: false },
  } as unknown as SessionData; // Cookie's class shape is not needed by the stores
}

const call = <T>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T | undefined> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

async function measure(label: string, op: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await op(i); // warm-up
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS) {
    await op(count);
    count += 1;
  }
  const perSecond = (count / (performance.now() - start)) * 1000;
  void label;
  return perSecond;
}

export interface StoreResult {
  operation: string;
  gatehouse: number;
  baseline: number;
}

export async function benchStores(): Promise<StoreResult[]> {
  const ids = Array.from({ length: SESSIONS }, () => randomBytes(24).toString('base64url'));
  const ourDir = tempDir('gatehouse-bench-');
  const baseDir = tempDir('gatehouse-bench-base-');
  const ctx = createContext(testConfig(ourDir));
  const user = ctx.users.insert({ username: 'bench', displayName: 'bench', email: null, passwordHash: 'x', groups: [], now: Date.now() });
  const SQLiteStore = connectSqlite3(session);
  const baseline = new SQLiteStore({ dir: baseDir, db: 'sessions.db' });
  const stores: Array<[string, Store]> = [
    ['gatehouse', ctx.sessionStore],
    ['baseline', baseline],
  ];
  // A new signed-in session: gatehouse issues it through the succession rule (sign-in),
  // the baseline through set.
  const issue = (store: Store, id: string): Promise<unknown> =>
    store === ctx.sessionStore
      ? Promise.resolve(ctx.sessions.succeed({ predecessor: `pre-${id}`, successor: id, userId: user.id, data: sessionData(user.id), forwardHash: sha256Hex(`forward ${id}`), epoch: ctx.sessions.epochOf(user.id) }))
      : call<void>((cb) => store.set(id, sessionData(user.id), cb));
  for (const [, store] of stores) {
    for (const id of ids) await issue(store, id);
  }
  const pick = (i: number) => ids[(i * 7919) % SESSIONS] as string;
  const operations: Array<[string, (store: Store, i: number) => Promise<unknown>]> = [
    ['get (same hot session)', (store) => call((cb) => store.get(ids[0] as string, cb))],
    ['get (2,000 sessions, spread)', (store, i) => call((cb) => store.get(pick(i), cb))],
    ['touch (spread)', (store, i) => call<void>((cb) => store.touch?.(pick(i), sessionData(user.id), () => cb(null)))],
    ['set, update (spread)', (store, i) => call<void>((cb) => store.set(pick(i), sessionData(user.id), cb))],
    ['new signed-in session', (store) => issue(store, randomBytes(24).toString('base64url'))],
  ];
  const results: StoreResult[] = [];
  for (const [operation, op] of operations) {
    const row: StoreResult = { operation, gatehouse: 0, baseline: 0 };
    for (const [name, store] of stores) row[name as 'gatehouse' | 'baseline'] = await measure(`${name} ${operation}`, (i) => op(store, i));
    results.push(row);
  }
  ctx.close();
  rmSync(ourDir, { recursive: true, force: true });
  rmSync(baseDir, { recursive: true, force: true });
  return results;
}
