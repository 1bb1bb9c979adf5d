// Real parts for tests: a temporary data dir, the real config validation and migrations,
// the real app from createApp() listening on 127.0.0.1, and helpers to make users.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createContext, type AppContext, type ContextOptions } from '../../src/context.js';
import { createRequestListener } from '../../src/http/app.js';
import type { User } from '../../src/users/repository.js';

export function tempDir(prefix = 'gatehouse-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Validated config for a test data dir. argon2 is made cheap *after* validation (the
 * schema refuses weak parameters): fine for tests, as SECURITY.md allows. Unless a test
 * sets two_factor itself, nobody is required to have a second factor (the production
 * default requires it of admins; tests of that policy say so).
 */
export function testConfig(dataDir: string, raw: Record<string, unknown> = {}): Config {
  const config = validateConfig({ two_factor: { required_for_groups: [] }, ...raw, data_dir: dataDir, log: { level: 'silent' } }, 'test');
  return { ...config, password: { ...config.password, argon2: { memory_kib: 1024, iterations: 1, parallelism: 1 } } };
}

export interface TestApp {
  url: string;
  ctx: AppContext;
  dataDir: string;
  server: Server;
  /** Stops the server and closes the database; keeps the data dir unless `remove`. */
  close(options?: { remove?: boolean }): Promise<void>;
}

export async function startApp(options: { config?: Record<string, unknown>; dataDir?: string } & ContextOptions = {}): Promise<TestApp> {
  const dataDir = options.dataDir ?? tempDir();
  // changePollMs 0: every read looks for other processes' writes, so tests that change the
  // database from a second connection need not wait out the 20 ms production interval.
  const ctx = createContext(testConfig(dataDir, options.config), { changePollMs: 0, ...options });
  // The production listener: forward auth on its fast path, the rest through createApp().
  const server = createServer(createRequestListener(ctx));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    ctx,
    dataDir,
    server,
    async close({ remove = true } = {}) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ctx.close();
      if (remove) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A password that passes the policy. */
export const GOOD_PASSWORD = 'correct horse battery staple';

export async function addUser(ctx: AppContext, username: string, options: { password?: string; groups?: string[] } = {}): Promise<User> {
  return ctx.accounts.create({ username, password: options.password ?? GOOD_PASSWORD, groups: options.groups ?? [], by: 'test' });
}
