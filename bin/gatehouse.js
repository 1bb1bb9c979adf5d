#!/usr/bin/env node
// The `gatehouse` command (npx gatehouse …): build if needed, then run the CLI.
import { buildIfNeeded } from '../scripts/build-if-needed.mjs';

buildIfNeeded();
// The CLI writes the same database and secrets as the server: keep them private.
process.umask(0o077);
// `gatehouse … | head` closes the pipe early: that is the reader's choice, not a crash.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const { run } = await import('../dist/cli/index.js');
process.exitCode = await run(process.argv);
