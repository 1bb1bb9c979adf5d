// The gatehouse configuration the HTTP benchmark runs with: a portal, a cookie domain and
// one rule protecting every subdomain, as in a typical home setup (issue 3).

import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

export const GATEHOUSE_BENCH_RAW = {
  portal_url: 'https://auth.home.example',
  session: { cookie_domain: 'home.example' },
  access_control: {
    default_policy: 'deny',
    rules: [{ domain: '*.home.example', policy: 'one_factor' }],
  },
} as const;

/** The server's config: the real validation, listening on 127.0.0.1:<port>, no logging. */
export function gatehouseBenchConfig(dataDir: string, port: number): Config {
  return validateConfig({ ...GATEHOUSE_BENCH_RAW, data_dir: dataDir, server: { host: '127.0.0.1', port }, log: { level: 'silent' } }, 'bench');
}
