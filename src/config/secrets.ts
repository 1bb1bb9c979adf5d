// Secrets generated on first run into the data dir (mode 0600) and reused afterwards.

import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { secureDataDir } from '../db/connection.js';
import { randomToken } from '../lib/crypto.js';

export interface Secrets {
  /** Signs the session cookie (express-session `secret`). */
  cookieSecret: string;
}

export function loadOrCreateSecrets(dataDir: string): Secrets {
  secureDataDir(dataDir);
  const file = join(dataDir, 'secrets.json');
  let existing: Partial<Secrets> = {};
  let found = false;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    found = true;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('it does not hold a JSON object');
    }
    existing = parsed as Partial<Secrets>;
    // Tighten permissions left loose by hand-copying the file.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read ${file}: ${(err as Error).message}; fix or remove it (removing it signs everyone out)`);
    }
  }
  if (typeof existing.cookieSecret === 'string' && existing.cookieSecret.length >= 32) {
    return { cookieSecret: existing.cookieSecret };
  }
  const secrets: Secrets = { cookieSecret: randomToken(48) };
  // 'wx' fails if another process created the file meanwhile; then read theirs.
  try {
    writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: found ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSecrets(dataDir);
    throw err;
  }
  return secrets;
}
