// Operations commands of the CLI: config check (effective config, secrets redacted),
// backup, restore and db check, as text for the terminal.

import { stringify as toYaml } from 'yaml';
import type { Config } from '../config/schema.js';
import { backupDatabase, checkDatabaseFile, reportProblems, restoreDatabase } from '../db/backup.js';
import { databasePath } from '../db/connection.js';
import { readMigrations } from '../db/migrate.js';
import { CliError } from './io.js';

/**
 * Keys whose values are secrets wherever they appear. The config holds none today (the
 * cookie key lives in data/secrets.json), but a future key such as `smtp.password` or
 * `totp.secret` must not be printed by `config check` the day it is added.
 */
const SECRET_KEY = /secret|passw(or)?d|token|api_?key|private_?key|credential/i;

/** A copy with secret values replaced; objects under secret-sounding keys are walked, not hidden. */
export function redactConfig(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => redactConfig(item, key));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, k)]));
  }
  // `setup.token_lifetime` is a duration, not a token: numbers and booleans are settings.
  if (typeof value === 'string' && SECRET_KEY.test(key)) return '[redacted]';
  if (typeof value === 'string') return redactUrlPassword(value);
  return value;
}

/** "https://user:pw@host" → "https://user:[redacted]@host"; other strings unchanged. */
function redactUrlPassword(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value)) return value;
  try {
    const url = new URL(value);
    if (!url.password) return value;
    url.password = 'redacted';
    return url.toString().replace(':redacted@', ':[redacted]@');
  } catch {
    return value;
  }
}

/** `config check`: the effective configuration as YAML (default) or JSON. */
export function renderConfig(config: Config, options: { json?: boolean; file?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const effective = redactConfig(config);
  if (options.json) return JSON.stringify(effective, null, 2);
  const env = options.env ?? process.env;
  const overrides = Object.keys(env)
    .filter((k) => k.startsWith('GATEHOUSE_') && k !== 'GATEHOUSE_CONFIG' && env[k] !== undefined && env[k] !== '')
    .sort();
  const file = options.file ?? env.GATEHOUSE_CONFIG;
  const header = [
    '# gatehouse: configuration is valid. Effective values (defaults filled in):',
    `# file: ${file || 'none (built-in defaults)'}`,
    `# environment overrides: ${overrides.length ? overrides.join(', ') : 'none'}`,
    '# durations are shown in milliseconds; secret values, if any, as [redacted]',
  ];
  return `${header.join('\n')}\n${toYaml(effective, { lineWidth: 0 }).trimEnd()}`;
}

function kib(bytes: number): string {
  return `${Math.max(1, Math.round(bytes / 1024)).toLocaleString('en-US')} KiB`;
}

export async function runBackup(config: Config, file: string, options: { force?: boolean }): Promise<string[]> {
  const r = await backupDatabase(config.data_dir, file, options);
  return [
    `backup written to ${r.file} (${kib(r.bytes)}, schema version ${r.schemaVersion}, ${r.users} user(s), ${r.liveSessions} live session(s))`,
    r.withCookieKey
      ? 'it includes the cookie key and the second-factor key: keep it as private as the data directory (it holds password hashes too)'
      : 'no secrets.json was found, so it holds no keys; it holds password hashes: keep it private',
  ];
}

export function runRestore(config: Config, file: string): string[] {
  const r = restoreDatabase(config.data_dir, file);
  const lines = [`restored ${file} into ${databasePath(config.data_dir)} (schema version ${r.schemaVersion}, ${r.users} user(s))`];
  lines.push(r.previous ? `the replaced database is kept as ${r.previous}` : 'there was no database before');
  if (r.cookieKey === 'restored') lines.push("the backup's cookie key was written to secrets.json (the old one is kept as a .bak): sessions in the backup work again");
  if (r.cookieKey === 'kept') lines.push('the backup holds no cookie key: secrets.json is unchanged, so sessions from the backup need a new sign-in unless the key is the same');
  if (r.ignoredSecrets.length) lines.push(`unknown keys in the backup's stored secrets were left out of secrets.json: ${r.ignoredSecrets.join(', ')}`);
  lines.push('start the server again (e.g. "systemctl start gatehouse")');
  return lines;
}

/**
 * `db check`: prints the report; throws (exit 1) when there are problems. A file given is
 * checked as a backup (it may hold the stored keys); the live database may not hold them.
 */
export function runDbCheck(config: Config, file?: string): string[] {
  const target = file ?? databasePath(config.data_dir);
  const report = checkDatabaseFile(target, { backup: file !== undefined });
  const known = readMigrations().length;
  const lines = [`${target}: schema version ${report.schemaVersion} (this gatehouse: ${known})`];
  if (report.ok) {
    lines.push('schema: only what the migrations create', 'integrity check: ok', 'foreign keys: ok');
    if (report.ignoredSecrets.length) lines.push(`stored secrets: unknown keys a restore leaves out: ${report.ignoredSecrets.join(', ')}`);
    return lines;
  }
  const problems = reportProblems(report);
  throw new CliError(`${lines[0]}\n${problems.map((p) => `  - ${p}`).join('\n')}\n${problems.length} problem(s); restore a backup ("gatehouse restore FILE") or ask for help`, 1);
}
