// Installs the benchmark's own packages (bench/package.json: the connect-sqlite3 baseline
// with sqlite3, and autocannon) before `npm run bench`, when bench/node_modules is missing
// or older than bench/package-lock.json. They live apart from gatehouse's dependencies so
// that installing gatehouse never compiles sqlite3, which only the baseline uses.

import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench');
// npm writes this file last in a complete install; its time says which lock it installed.
const installed = join(bench, 'node_modules', '.package-lock.json');
const lock = join(bench, 'package-lock.json');

if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  console.error('gatehouse bench: installing the benchmark\'s packages (npm ci --prefix bench; compiles sqlite3 for the baseline)…');
  // Under `npm run`, npm_execpath is the npm that runs us; otherwise the one on PATH.
  const npm = process.env.npm_execpath;
  const args = ['ci', '--prefix', bench, '--no-audit', '--no-fund'];
  if (npm && npm.endsWith('.js')) execFileSync(process.execPath, [npm, ...args], { stdio: 'inherit' });
  else execFileSync('npm', args, { stdio: 'inherit' });
}
