// The gatehouse configuration the HTTP benchmark runs with (gatehouse-config.json): a
// portal, a cookie domain and one rule protecting every subdomain, as in a typical home
// setup (issue 3). All load comes from one client address, so the forward-auth per-client
// budget is raised out of the way.

import { readFileSync } from 'node:fs';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

export const GATEHOUSE_BENCH_RAW = JSON.parse(readFileSync(new URL('./gatehouse-config.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** The server's config: the real validation, listening on 127.0.0.1:<port>, no logging. */
export function gatehouseBenchConfig(dataDir: string, port: number): Config {
  return validateConfig({ ...GATEHOUSE_BENCH_RAW, data_dir: dataDir, server: { host: '127.0.0.1', port }, log: { level: 'silent' } }, 'bench');
}
