// The layout check that runs first in `npm test` (scripts/check-imports.mjs): it finds an
// import cycle (type-only imports included), a domain file importing the app context or the
// web layer, SQL outside the engine files, and a stale SQL allow-list entry. Run on small
// fixture trees, and on src/ itself, which must pass.

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { tempDir } from '../../support/harness.js';

const SCRIPT = new URL('../../../scripts/check-imports.mjs', import.meta.url).pathname;

function run(args: string[]): { status: number | null; out: string } {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

describe('the layout check (scripts/check-imports.mjs)', () => {
  let root: string;
  const write = (files: Record<string, string>): void => {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
  };
  beforeEach(() => {
    root = join(tempDir('gatehouse-layout-'), 'src');
    mkdirSync(root);
  });
  afterEach(() => rmSync(dirname(root), { recursive: true, force: true }));

  it('passes a tree whose imports only point down and have no cycle', () => {
    write({
      'context.ts': "import { Users } from './users/repository.js';\nexport const make = () => new Users();\n",
      'http/app.ts': "import type { make } from '../context.js';\nexport type App = ReturnType<typeof make>;\n",
      'users/repository.ts': "import { clock } from '../lib/clock.js';\nexport class Users { now = clock; }\n",
      'lib/clock.ts': 'export const clock = () => Date.now();\n',
    });
    const { status, out } = run(['--root', root]);
    expect(out).to.contain('0 import cycle(s)');
    expect(status).to.equal(0);
  });

  it('fails on an import cycle, type-only imports included, and shows how it closes', () => {
    write({
      'audit/events.ts': "import { AuditLog } from './query.js';\nexport const log = new AuditLog();\n",
      'audit/query.ts': "import type { Entry } from './entry.js';\nexport class AuditLog { last?: Entry; }\n",
      'audit/entry.ts': "import type { log } from './events.js';\nexport type Entry = typeof log;\n",
    });
    const { status, out } = run(['--root', root]);
    expect(status).to.equal(1);
    expect(out).to.contain('cycle (3 files: audit/entry.ts, audit/events.ts, audit/query.ts)');
    expect(out).to.contain('audit/entry.ts -(type)-> audit/events.ts -> audit/query.ts -(type)-> audit/entry.ts');
  });

  it('fails when a domain file imports the app context or the web layer, even for types only', () => {
    write({
      'context.ts': 'export interface AppContext { name: string }\n',
      'http/flash.ts': 'export interface FlashMessage { text: string }\n',
      'theft/guard.ts': "import type { AppContext } from '../context.js';\nexport const guard = (ctx: AppContext) => ctx.name;\n",
      'sessions/types.ts': "import type { FlashMessage } from '../http/flash.js';\nexport type Flash = FlashMessage[];\n",
      'admin/page.ts': "import type { AppContext } from '../context.js';\nimport { guard } from '../theft/guard.js';\nexport const page = (ctx: AppContext) => guard(ctx);\n",
    });
    const { status, out } = run(['--root', root]);
    expect(status).to.equal(1);
    expect(out).to.contain('layering: theft/guard.ts imports types from context.ts');
    expect(out).to.contain('layering: sessions/types.ts imports types from http/flash.ts');
    // The web layer may use the context and the domains.
    expect(out).not.to.contain('admin/page.ts');
  });

  it('fails on SQL outside the engine files unless allow-listed, and on a stale allow-list entry', () => {
    write({
      'db/migrate.ts': "export const m = (db: { exec(s: string): void }) => db.exec('CREATE TABLE t (id INTEGER)');\n",
      'users/sqlite.ts': "export const find = (db: { prepare(s: string): unknown }) => db.prepare('SELECT id FROM users WHERE id = ?');\n",
      'users/accounts.ts': "export const q = (db: { prepare(s: string): unknown }) => db.prepare('DELETE FROM sessions');\n",
      'tokens/api-tokens.ts': "export const SQL = `UPDATE api_tokens SET last_used_at = ?`;\n",
      'passwords/hasher.ts': '// Not SQL: the hasher warms up with prepare() and a regular expression has exec().\nexport const warm = (h: { prepare(): void }) => h.prepare();\nexport const m = /a/.exec("a");\n',
      'audit/query.ts': 'export const nothing = 1;\n',
    });
    const { status, out } = run(['--root', root, '--allow-sql', 'tokens/api-tokens.ts', '--allow-sql', 'audit/query.ts']);
    expect(status).to.equal(1);
    expect(out).to.contain('sql: users/accounts.ts contains SQL');
    expect(out).to.contain('sql: audit/query.ts is on --allow-sql but has no SQL any more');
    expect(out).to.contain('allow-list 2 file(s) still to move');
    for (const fine of ['db/migrate.ts', 'users/sqlite.ts', 'tokens/api-tokens.ts', 'passwords/hasher.ts']) expect(out).not.to.contain(`sql: ${fine}`);
  });

  it('passes on src/ itself', () => {
    const { status, out } = run([]);
    expect(out, out).to.match(/0 import cycle\(s\)/);
    expect(status, out).to.equal(0);
  });
});
