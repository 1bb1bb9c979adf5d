#!/usr/bin/env node
// The `gatehouse` command (npx gatehouse …): build if needed, then run the CLI.
import { buildIfNeeded } from '../scripts/build-if-needed.mjs';

buildIfNeeded();
// The CLI writes the same database and secrets as the server: keep them private.
process.umask(0o077);
const { run } = await import('../dist/cli/index.js');
process.exitCode = await run(process.argv);
