// The migration runner: numbered, append-only SQL files applied in order at start-up, each
// in its own transaction, recorded with a checksum so an edited old migration is caught.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../lib/crypto.js';
import { migrationsDir } from '../lib/paths.js';
import type { Db } from './connection.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir = migrationsDir): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .map((file) => {
      const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
      if (!match) throw new Error(`migration file name ${file} must look like 0001_name.sql`);
      return { version: Number(match[1]), name: match[2] as string, sql: readFileSync(join(dir, file), 'utf8') };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migrations must be numbered 1, 2, 3… without gaps; found ${m.version} at position ${i + 1}`);
  });
  return migrations;
}

/** Applies pending migrations; returns the versions applied now. */
export function migrate(db: Db, migrations = readMigrations()): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const applied = new Map(
    (db.prepare('SELECT version, name, checksum FROM schema_migrations').all() as Array<{ version: number; name: string; checksum: string }>).map(
      (r) => [r.version, r],
    ),
  );
  const newest = Math.max(0, ...applied.keys());
  if (newest > migrations.length) {
    throw new Error(`the database is at schema version ${newest}, newer than this gatehouse (${migrations.length}); upgrade gatehouse or restore a matching backup`);
  }
  const done: number[] = [];
  for (const m of migrations) {
    const checksum = sha256Hex(m.sql);
    const previous = applied.get(m.version);
    if (previous) {
      if (previous.checksum !== checksum) {
        throw new Error(`migration ${m.version}_${m.name} was changed after it was applied; migrations are append-only — add a new one instead`);
      }
      continue;
    }
    // A table rebuild must not cascade through foreign keys while the old table is dropped;
    // SQLite only honours this pragma outside a transaction. Integrity is checked before commit.
    const keysOff = m.sql.startsWith('-- migrate: foreign_keys=off');
    if (keysOff) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(m.sql);
        if (keysOff && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new Error(`migration ${m.version}_${m.name} left foreign keys that point nowhere`);
        }
        db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(m.version, m.name, checksum, Date.now());
      })();
    } finally {
      if (keysOff) db.pragma('foreign_keys = ON');
    }
    done.push(m.version);
  }
  return done;
}
