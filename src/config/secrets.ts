// Secrets generated on first run into the data dir (mode 0600) and reused afterwards.

import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { secureDataDir } from '../db/connection.js';
import { randomToken } from '../lib/crypto.js';

export interface Secrets {
  /** Signs the session cookie (express-session `secret`). */
  cookieSecret: string;
  /**
   * 32 random bytes (base64url) protecting second factors at rest: TOTP secrets are
   * encrypted and recovery codes keyed with keys derived from it (src/twofactor). Kept out
   * of the database so a copy of gatehouse.db alone reveals neither.
   */
  twoFactorKey: string;
}

/** A stale secrets.json.new (a process died while upgrading the file) is removed after this. */
const UPGRADE_STALE_MS = 10_000;
const UPGRADE_WAIT_MS = 25;

const isTwoFactorKey = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{43}$/.test(v) && Buffer.from(v, 'base64url').length === 32;
const isCookieSecret = (v: unknown): v is string => typeof v === 'string' && v.length >= 32;

/** Every key of secrets.json with its check: used at start-up and when a restore writes keys back. */
const SECRET_CHECKS: { [K in keyof Secrets]: { valid: (v: unknown) => v is string; problem: string } } = {
  cookieSecret: { valid: isCookieSecret, problem: 'is not a string of at least 32 characters' },
  twoFactorKey: { valid: isTwoFactorKey, problem: 'is not 32 bytes of base64url' },
};

/** The keys secrets.json holds; a backup carries these and a restore takes no others. */
export const SECRET_KEYS = Object.keys(SECRET_CHECKS) as Array<keyof Secrets>;

export const isSecretKey = (key: string): key is keyof Secrets => Object.hasOwn(SECRET_CHECKS, key);

/** Why `value` cannot serve as the secret `key` ("twoFactorKey is not …"), or null when it can. */
export function secretProblem(key: keyof Secrets, value: unknown): string | null {
  return SECRET_CHECKS[key].valid(value) ? null : `${key} ${SECRET_CHECKS[key].problem}`;
}

function readSecretsFile(file: string): { found: boolean; existing: Record<string, unknown> } {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('it does not hold a JSON object');
    }
    // Tighten permissions left loose by hand-copying the file.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    const existing = parsed as Record<string, unknown>;
    // Replacing a damaged key would make every enrolled authenticator unreadable: refuse.
    const damaged = existing.twoFactorKey === undefined ? null : secretProblem('twoFactorKey', existing.twoFactorKey);
    if (damaged) throw new Error(`${damaged}; restore it from a backup of secrets.json (without it every second factor must be reset)`);
    return { found: true, existing };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { found: false, existing: {} };
    throw new Error(`cannot read ${file}: ${(err as Error).message}; fix or remove it (removing it signs everyone out and makes every enrolled second factor unusable)`);
  }
}

const complete = (e: Record<string, unknown>): Secrets | null =>
  isCookieSecret(e.cookieSecret) && isTwoFactorKey(e.twoFactorKey) ? { cookieSecret: e.cookieSecret, twoFactorKey: e.twoFactorKey } : null;

export function loadOrCreateSecrets(dataDir: string): Secrets {
  secureDataDir(dataDir);
  const file = join(dataDir, 'secrets.json');
  for (;;) {
    const { found, existing } = readSecretsFile(file);
    const ready = complete(existing);
    if (ready) return ready;
    if (!found) {
      const secrets: Secrets = { cookieSecret: randomToken(48), twoFactorKey: randomToken(32) };
      // 'wx' fails if another process created the file meanwhile; then read theirs.
      try {
        writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
        return secrets;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        continue;
      }
    }
    const upgraded = fillMissing(file);
    if (upgraded) return upgraded;
  }
}

/**
 * Adds missing or too-short keys to an existing secrets.json, keeping what it holds. Two
 * processes may try at once (the server and a CLI command, first start after an upgrade);
 * each must end up with the key on disk, never its own. So secrets.json.new is created
 * exclusively as a lock, the file is re-read under it, and the new content renamed into
 * place. Returns null when another process holds the lock: wait, then read its result.
 */
function fillMissing(file: string): Secrets | null {
  const next = `${file}.new`;
  let fd: number;
  try {
    fd = openSync(next, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      if (Date.now() - statSync(next).mtimeMs > UPGRADE_STALE_MS) rmSync(next, { force: true });
    } catch {
      // renamed meanwhile: the other process is done
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, UPGRADE_WAIT_MS);
    return null;
  }
  try {
    const { existing } = readSecretsFile(file);
    const secrets: Secrets = {
      cookieSecret: isCookieSecret(existing.cookieSecret) ? existing.cookieSecret : randomToken(48),
      twoFactorKey: isTwoFactorKey(existing.twoFactorKey) ? existing.twoFactorKey : randomToken(32),
    };
    writeSync(fd, `${JSON.stringify({ ...existing, ...secrets }, null, 2)}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(next, file);
    return secrets;
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(next, { force: true });
    throw err;
  }
}
