#!/usr/bin/env node
// The layout rules of src/ (ARCHITECTURE.md section 3, issue 19), checked first in `npm test`:
// 1. no import cycle (type-only imports count: they tie the modules together just the same);
// 2. no domain file reaches up: only the top (server.ts, context.ts and the web layer: http/,
//    account/, admin/, api/, cli/, auth/) may import the app context or the web layer;
// 3. SQL only in the engine files (`sqlite.ts`, `postgres.ts`, `storage/`) and db/, apart from
//    the files on SQL_NOT_YET_MOVED, which is to shrink to nothing: a new file with SQL fails,
//    and so does a listed file that no longer has any (take it off the list).
// Usage: node scripts/check-imports.mjs [--root DIR [--allow-sql FILE]...]
// (--root checks another tree, e.g. a test fixture, with only the --allow-sql files allowed).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folders (with a trailing slash) and top-level files that make up the top: wiring and web adapters. */
const TOP = ['server.ts', 'context.ts', 'http/', 'account/', 'admin/', 'api/', 'cli/', 'auth/'];

/** Where SQL belongs. */
const isEngineFile = (file) => file.startsWith('db/') || file.startsWith('storage/') || /(^|\/)(sqlite|postgres)\.ts$/.test(file);

/** Files with SQL outside the engine files today (relative to src/); each step of issue 19 takes some off. */
const SQL_NOT_YET_MOVED = [
  'audit/events.ts',
  'audit/query.ts',
  'auth/passkey-sign-in.ts',
  'auth/setup.ts',
  'context.ts',
  'http/health.ts',
  'metrics/metrics.ts',
  'throttle/rate-limit-store.ts',
  'throttle/regulator.ts',
  'tokens/api-tokens.ts',
  'twofactor/limiter.ts',
  'twofactor/passkeys.ts',
  'twofactor/recovery-codes.ts',
  'twofactor/remembered-devices.ts',
  'twofactor/totp.ts',
  'users/accounts.ts',
  'users/repository.ts',
];

const SQL_SIGNS = [
  /\.prepare\(\s*[^\s)]/, // better-sqlite3's prepare with an argument (not the hasher's prepare())
  /\.pragma\(/,
  /[\w)\]]\.exec\(\s*['"`]/, // Database#exec with literal SQL (not a regular expression literal's exec)
  /['"`]\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|WITH|REPLACE|VACUUM|BEGIN)\s/, // a string that is a statement
];

const isTop = (file) => TOP.some((t) => (t.endsWith('/') ? file.startsWith(t) : file === t));

function parseArgs(argv) {
  let root = null;
  const allowSql = [];
  for (let i = 0; i < argv.length; i += 2) {
    const [arg, value] = [argv[i], argv[i + 1]];
    if (arg !== '--root' && arg !== '--allow-sql') throw new Error(`unknown argument ${arg}`);
    if (value === undefined) throw new Error(`${arg} needs a value`);
    if (arg === '--root') root = resolve(value);
    else allowSql.push(value);
  }
  if (root !== null) return { root, allowSql, allowListName: '--allow-sql' };
  const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  return { root: src, allowSql: [...SQL_NOT_YET_MOVED, ...allowSql], allowListName: 'SQL_NOT_YET_MOVED in scripts/check-imports.mjs' };
}

function listTs(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The source without comments (roughly: enough that a comment mentioning SQL or an import does not count). */
function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const IMPORT = /(?:^|[\n;{}])\s*(import|export)\s+(type\s+)?(?:[\w*{}\s,$]*?\bfrom\s*)?['"]([^'"]+)['"]/g;
const DYNAMIC_IMPORT = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Relative imports of a file: { target (relative to root), typeOnly }. */
function importsOf(root, file, text) {
  const found = [];
  const add = (specifier, typeOnly) => {
    if (!specifier.startsWith('.')) return;
    const abs = resolve(dirname(join(root, file)), specifier);
    const candidates = [abs.replace(/\.js$/, '.ts'), abs.replace(/\.mjs$/, '.mts'), `${abs}.ts`, join(abs, 'index.ts')];
    const hit = candidates.find((c) => c.endsWith('.ts') && existsSync(c) && statSync(c).isFile());
    if (!hit) return;
    const target = relative(root, hit).split(sep).join('/');
    if (!target.startsWith('..')) found.push({ target, typeOnly });
  };
  for (const m of text.matchAll(IMPORT)) add(m[3], Boolean(m[2]));
  for (const m of text.matchAll(DYNAMIC_IMPORT)) add(m[1], false);
  return found;
}

/** Tarjan's strongly connected components; each with more than one file (or a self-import) holds a cycle. */
function stronglyConnected(nodes, edges) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  const visit = (start) => {
    // Iterative, so a long import chain cannot overflow the call stack.
    const work = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const targets = edges.get(frame.node) ?? [];
      if (frame.next < targets.length) {
        const to = targets[frame.next++].target;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node), index.get(to)));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent), low.get(frame.node)));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component = [];
        let member;
        do {
          member = stack.pop();
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component.sort());
      }
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return components.filter((c) => c.length > 1 || (edges.get(c[0]) ?? []).some((e) => e.target === c[0]));
}

/** One shortest cycle through the component's first file (breadth-first), to show how it closes. */
function oneCycle(component, edges) {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift();
    for (const { target, typeOnly } of edges.get(node) ?? []) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [{ file: start, typeOnly }];
        for (let at = node; at !== start; at = previous.get(at).from) path.unshift({ file: at, typeOnly: previous.get(at).typeOnly });
        path.unshift({ file: start, typeOnly: false });
        return path.map((p, i) => (i === 0 ? p.file : `${p.typeOnly ? '-(type)-> ' : '-> '}${p.file}`)).join(' ');
      }
      if (!previous.has(target)) {
        previous.set(target, { from: node, typeOnly });
        queue.push(target);
      }
    }
  }
  return component.join(' ');
}

export function check({ root, allowSql, allowListName }) {
  const files = listTs(root)
    .map((f) => relative(root, f).split(sep).join('/'))
    .sort();
  const edges = new Map();
  const problems = [];
  const sqlFiles = [];
  let importCount = 0;
  for (const file of files) {
    const text = stripComments(readFileSync(join(root, file), 'utf8'));
    const imports = importsOf(root, file, text);
    importCount += imports.length;
    edges.set(file, imports);
    if (!isTop(file)) {
      for (const { target, typeOnly } of imports) {
        if (isTop(target)) problems.push(`layering: ${file} imports ${typeOnly ? 'types from ' : ''}${target} (a domain never reaches up to the context or the web layer: pass it what it needs)`);
      }
    }
    if (SQL_SIGNS.some((sign) => sign.test(text))) {
      sqlFiles.push(file);
      if (!isEngineFile(file) && !allowSql.includes(file)) problems.push(`sql: ${file} contains SQL (SQL belongs in the engine files, <domain>/sqlite.ts, and db/)`);
    }
  }
  for (const listed of allowSql) {
    if (isEngineFile(listed)) continue;
    if (!files.includes(listed)) problems.push(`sql: ${listed} is on ${allowListName} but does not exist: take it off the list`);
    else if (!sqlFiles.includes(listed)) problems.push(`sql: ${listed} is on ${allowListName} but has no SQL any more: take it off the list`);
  }
  const cycles = stronglyConnected(files, edges);
  for (const component of cycles) problems.push(`cycle (${component.length} files: ${component.join(', ')}): ${oneCycle(component, edges)}`);
  const outside = sqlFiles.filter((f) => !isEngineFile(f)).length;
  return { files: files.length, imports: importCount, cycles: cycles.length, sqlOutsideEngines: outside, allowListSize: allowSql.length, problems };
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`check-imports: ${err.message}`);
    process.exit(2);
  }
  const result = check(options);
  console.log(
    `check-imports: ${result.files} files, ${result.imports} relative imports, ${result.cycles} import cycle(s); ` +
      `SQL outside the engine files in ${result.sqlOutsideEngines} file(s), allow-list ${result.allowListSize} file(s) still to move`,
  );
  for (const problem of result.problems) console.error(`  ${problem}`);
  if (result.problems.length > 0) {
    console.error(`check-imports: ${result.problems.length} problem(s)`);
    process.exit(1);
  }
}
