// Running the real `gatehouse` command (bin/gatehouse.js) as a child process on a data dir,
// as an administrator would; optionally checking that it prints none of a set of secrets.

import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createContext } from '../../src/context.js';
import { packageRoot } from '../../src/lib/paths.js';
import { testConfig } from './harness.js';

const BIN = join(packageRoot, 'bin', 'gatehouse.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Builds dist/ once (call from a `before` hook), so no command pays for a tsc run. */
export function buildOnce(): void {
  execFileSync(process.execPath, [join(packageRoot, 'scripts', 'build-if-needed.mjs')], { cwd: packageRoot, stdio: 'inherit' });
}

/**
 * A data dir with a migrated database, as the server's first start leaves it: the CLI works
 * only on an existing database (it never creates one).
 */
export function initDataDir(dataDir: string, raw: Record<string, unknown> = {}): void {
  createContext(testConfig(dataDir, raw)).close();
}

/**
 * Runs `node bin/gatehouse.js ...args` with GATEHOUSE_DATA_DIR = dataDir (null: not set);
 * stdin gets `input` (if any) and is closed. Rejects if the output contains any of `secrets`.
 */
export function gatehouse(
  dataDir: string | null,
  args: string[],
  options: { input?: string; env?: Record<string, string>; secrets?: Iterable<string>; cwd?: string } = {},
): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {};
  // The caller's own GATEHOUSE_* settings must not leak into the command under test.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GATEHOUSE_')) env[k] = v;
  Object.assign(env, dataDir === null ? {} : { GATEHOUSE_DATA_DIR: dataDir }, options.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? packageRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => {
      for (const secret of options.secrets ?? []) {
        if (stdout.includes(secret) || stderr.includes(secret)) {
          reject(new Error(`gatehouse ${args.join(' ')} printed a secret (password or session ID)`));
          return;
        }
      }
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // the command may exit before reading stdin
    child.stdin.end(options.input ?? '');
  });
}
