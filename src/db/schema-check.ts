// The schema a gatehouse database may have: exactly the tables, indexes, views and triggers
// its migrations create, compared by name and SQL with a reference built from the real
// migrations in memory, so a backup cannot bring its own (or altered) objects along.

import Database from 'better-sqlite3';
import { sha256Hex } from '../lib/crypto.js';
import type { Db } from './connection.js';
import { migrate, type Migration } from './migrate.js';

interface SchemaObject {
  type: string;
  name: string;
  table: string;
  sql: string | null;
}

/**
 * Tables SQLite itself adds on ANALYZE or PRAGMA optimize, with the SQL it gives them. Only
 * these are let through, not every sqlite_ name: SQLite refuses to CREATE such names, but
 * a file can hold, say, a trigger called sqlite_x written straight into sqlite_schema, and
 * SQLite runs it. (sqlite_sequence and the automatic indexes are in the reference anyway.)
 */
const SQLITE_STATISTICS = new Map([
  ['sqlite_stat1', 'CREATE TABLE sqlite_stat1(tbl,idx,stat)'],
  ['sqlite_stat4', 'CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)'],
]);

/** Problems are listed up to this many; a file with thousands says enough with the first. */
const MAX_LISTED = 25;

const references = new Map<string, SchemaObject[]>();

function readSchema(db: Db): SchemaObject[] {
  return db.prepare('SELECT type, name, tbl_name AS "table", sql FROM sqlite_schema ORDER BY type, name').all() as SchemaObject[];
}

/** What `migrations` (and then `extraSql`) create in an empty database; computed once per set. */
function referenceSchema(migrations: Migration[], extraSql: string): SchemaObject[] {
  const key = sha256Hex(JSON.stringify([migrations.map((m) => m.sql), extraSql]));
  let schema = references.get(key);
  if (!schema) {
    const db = new Database(':memory:');
    try {
      db.pragma('foreign_keys = ON');
      migrate(db, migrations);
      if (extraSql) db.exec(extraSql);
      schema = readSchema(db);
    } finally {
      db.close();
    }
    references.set(key, schema);
  }
  return schema;
}

const WHITESPACE = new Set([' ', '\t', '\n', '\f', '\r']);
const CLOSING_QUOTE: Record<string, string> = { "'": "'", '"': '"', '`': '`', '[': ']' };

/**
 * The SQL with comments removed and each run of whitespace outside quotes made one space:
 * the same statement however it is laid out, while any other change shows. Comments must go
 * rather than be squeezed: "x INT -- note⏎, y INT" and "x INT -- note, y INT" would
 * otherwise compare equal, though the second comments column y out.
 */
export function normaliseSql(sql: string): string {
  let out = '';
  let gap = false;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const pair = sql.slice(i, i + 2);
    if (pair === '--' || pair === '/*') {
      const end = pair === '--' ? sql.indexOf('\n', i) : sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + (pair === '--' ? 1 : 2);
      gap = true;
      continue;
    }
    if (WHITESPACE.has(c)) {
      gap = true;
      i += 1;
      continue;
    }
    if (gap && out) out += ' ';
    gap = false;
    const close = CLOSING_QUOTE[c];
    if (!close) {
      out += c;
      i += 1;
      continue;
    }
    // Quoted text is kept as it is; a doubled quote inside is an escaped one ([…] has none).
    let j = i + 1;
    for (;;) {
      const k = sql.indexOf(close, j);
      if (k < 0) {
        j = sql.length;
        break;
      }
      if (close !== ']' && sql[k + 1] === close) {
        j = k + 2;
        continue;
      }
      j = k + 1;
      break;
    }
    out += sql.slice(i, j);
    i = j;
  }
  return out;
}

/** A name from the file as safe terminal text: quoted, printable ASCII, at most 60 characters. */
export function shownName(name: string): string {
  const short = name.length > 60 ? `${name.slice(0, 60)}…` : name;
  return `"${short.replace(/[^\x20-\x7e…]|["\\]/g, (ch) => (ch === '"' || ch === '\\' ? `\\${ch}` : `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`))}"`;
}

function describe(o: SchemaObject): string {
  const on = (o.type === 'index' || o.type === 'trigger') && o.table ? ` on table ${shownName(o.table)}` : '';
  return `${o.type} ${shownName(o.name)}${on}`;
}

/** schema_migrations must list versions 1…version, each with this gatehouse's name and checksum. */
function migrationRecordProblems(db: Db, version: number, migrations: Migration[]): string[] {
  const rows = db.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all() as Array<{ version: unknown; name: unknown; checksum: unknown }>;
  const problems: string[] = [];
  const seen = new Set<unknown>();
  for (const row of rows) {
    seen.add(row.version);
    const m = typeof row.version === 'number' ? migrations[row.version - 1] : undefined;
    if (!m || m.version > version) problems.push(`schema_migrations: unexpected version ${shownName(String(row.version))}`);
    else if (row.name !== m.name || row.checksum !== sha256Hex(m.sql)) problems.push(`schema_migrations: version ${m.version} is not this gatehouse's migration ${m.version}_${m.name}`);
  }
  for (const m of migrations.slice(0, version)) if (!seen.has(m.version)) problems.push(`schema_migrations: version ${m.version} is missing`);
  return problems;
}

/**
 * Every difference between the schema of `db` and what the first `version` of `migrations`
 * (plus `extraSql`, e.g. a backup's own table) create: unexpected, missing and altered
 * objects, each named. Empty when they match. `version` must be 1…migrations.length.
 */
export function schemaDifferences(db: Db, version: number, migrations: Migration[], extraSql = ''): string[] {
  const expected = new Map(referenceSchema(migrations.slice(0, version), extraSql).map((o) => [`${o.type}\0${o.name}`, o]));
  const problems: string[] = [];
  const matched = new Set<string>();
  for (const actual of readSchema(db)) {
    const key = `${actual.type}\0${actual.name}`;
    const reference = expected.get(key);
    if (!reference && actual.type === 'table' && actual.sql !== null && SQLITE_STATISTICS.get(actual.name) === normaliseSql(actual.sql)) continue;
    if (!reference || matched.has(key)) {
      problems.push(`unexpected ${describe(actual)}`);
      continue;
    }
    matched.add(key);
    const same = reference.table === actual.table && (reference.sql === null ? actual.sql === null : actual.sql !== null && normaliseSql(reference.sql) === normaliseSql(actual.sql));
    if (!same) problems.push(`altered ${describe(actual)} (its SQL differs from the migrations')`);
  }
  for (const [key, reference] of expected) if (!matched.has(key)) problems.push(`missing ${describe(reference)}`);
  if (problems.length === 0) problems.push(...migrationRecordProblems(db, version, migrations));
  return problems.length > MAX_LISTED ? [...problems.slice(0, MAX_LISTED), `… and ${problems.length - MAX_LISTED} more`] : problems;
}
