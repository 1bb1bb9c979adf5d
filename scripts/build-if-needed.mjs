// Builds dist/ with tsc when it is missing or older than any source file, so that
// `npm start` and `npx gatehouse` work straight after `npm install`.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : entry.name.endsWith('.ts') ? statSync(path).mtimeMs : 0);
  }
  return latest;
}

export function buildIfNeeded() {
  const marker = join(root, 'dist', 'server.js');
  const stale = !existsSync(marker) || newest(join(root, 'src')) > statSync(marker).mtimeMs;
  if (!stale) return;
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    if (existsSync(marker)) return; // a production install ships dist/ without TypeScript
    console.error('gatehouse: dist/ is missing and TypeScript is not installed; run "npm install" first');
    process.exit(1);
  }
  console.error('gatehouse: building (tsc)…');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) buildIfNeeded();
