// A real session store on a temporary data dir (real migrations, fake clock), promise
// wrappers for its express-session Store adapter as express-session calls it, and raw row
// access.

import { rmSync } from 'node:fs';
import type { SessionData } from 'express-session';
import { createContext, type AppContext } from '../../src/context.js';
import type { SessionAuth } from '../../src/sessions/types.js';
import { ExpressSessionStore } from '../../src/sessions/express-store.js';
import type { Sessions } from '../../src/sessions/sessions.js';
import type { SessionRow } from '../../src/sessions/store.js';
import { sha256Hex } from '../../src/lib/crypto.js';
import { FakeClock } from './clock.js';
import { tempDir, testConfig } from './harness.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export interface StoreFixture {
  ctx: AppContext;
  clock: FakeClock;
  /** The sessions domain (ctx.sessions); the wrappers below reach it through the Store adapter. */
  store: Sessions;
  dataDir: string;
  /** Users that exist (sessions reference users by foreign key). */
  alice: number;
  bob: number;
  /** A second context on the same data dir, like the CLI opening the database. */
  openSecond(): AppContext;
  close(): void;
}

export function openStore(config: Record<string, unknown> = {}): StoreFixture {
  const dataDir = tempDir('gatehouse-store-');
  const clock = new FakeClock();
  const ctx = createContext(testConfig(dataDir, config), { clock, changePollMs: 0 });
  const user = (username: string) =>
    ctx.users.insert({ username, displayName: username, email: null, passwordHash: '$argon2id$unused', groups: [], now: clock.now() }).id;
  const alice = user('alice');
  const bob = user('bob');
  const others: AppContext[] = [];
  return {
    ctx,
    clock,
    store: ctx.sessions,
    dataDir,
    alice,
    bob,
    openSecond() {
      const second = createContext(testConfig(dataDir, config), { clock, changePollMs: 0 });
      others.push(second);
      return second;
    },
    close() {
      for (const other of others) other.close();
      ctx.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A signed-in session as the login flow stores it. */
export function signedIn(userId: number, auth: Partial<SessionAuth> = {}, extra: Partial<SessionData> = {}): SessionData {
  return {
    cookie: { originalMaxAge: null, httpOnly: true, path: '/' },
    passport: { user: userId },
    auth: { at: 0, ip: '192.0.2.10', userAgent: 'Mozilla/5.0 (test)', remember: false, ...auth },
    ...extra,
  };
}

/** An anonymous session (e.g. holding only a CSRF token). */
export function anonymous(extra: Partial<SessionData> = {}): SessionData {
  return { cookie: { originalMaxAge: null, httpOnly: true, path: '/' }, ...extra };
}

// express-session calls the Store through callbacks; these wrap them the same way, each
// through an adapter over `store` like the app's (the adapter holds no state of its own).
const adapter = (store: Sessions) => new ExpressSessionStore(store);

export function get(store: Sessions, sid: string): Promise<SessionData | null> {
  return new Promise((resolve, reject) => adapter(store).get(sid, (err, sess) => (err ? reject(err) : resolve(sess ?? null))));
}

export function set(store: Sessions, sid: string, sess: SessionData): Promise<void> {
  return new Promise((resolve, reject) => adapter(store).set(sid, sess, (err) => (err ? reject(err) : resolve())));
}

/**
 * Stores a new signed-in session the way sign-in does (Sessions.succeed, under the
 * user's current epoch): the Store API's set only ever updates a signed-in row.
 */
export function issue(store: Sessions, sid: string, sess: SessionData, predecessor = `pre-${sid}`): Promise<void> {
  const userId = sess.passport?.user;
  if (typeof userId !== 'number') throw new Error('issue() is for signed-in sessions');
  store.succeed({ predecessor, successor: sid, userId, data: sess, forwardHash: sha256Hex(`forward ${sid}`), epoch: store.epochOf(userId) });
  return Promise.resolve();
}

export function destroy(store: Sessions, sid: string): Promise<void> {
  return new Promise((resolve, reject) => adapter(store).destroy(sid, (err) => (err ? reject(err) : resolve())));
}

export function touch(store: Sessions, sid: string, sess: SessionData): Promise<void> {
  return new Promise((resolve, reject) => adapter(store).touch(sid, sess, (err) => (err ? reject(err) : resolve())));
}

export function all(store: Sessions): Promise<Record<string, SessionData>> {
  return new Promise((resolve, reject) =>
    adapter(store).all((err, obj) => (err ? reject(err) : resolve((obj ?? {}) as Record<string, SessionData>))),
  );
}

export function length(store: Sessions): Promise<number> {
  return new Promise((resolve, reject) => adapter(store).length((err, n) => (err ? reject(err) : resolve(n ?? -1))));
}

export function clear(store: Sessions): Promise<void> {
  return new Promise((resolve, reject) => adapter(store).clear((err) => (err ? reject(err) : resolve())));
}

export type RawSessionRow = SessionRow;

/** The row as stored, read with a query of its own (not through the store or its cache). */
export function rowOf(ctx: AppContext, hash: string): RawSessionRow | undefined {
  return ctx.db.prepare('SELECT * FROM sessions WHERE id_hash = ?').get(hash) as RawSessionRow | undefined;
}

/** Rows modified by this connection so far: a way to count the store's writes. */
export function writesSoFar(ctx: AppContext): number {
  return ctx.db.prepare('SELECT total_changes()').pluck().get() as number;
}
