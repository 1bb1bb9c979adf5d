#!/usr/bin/env node
// The `gatehouse` command (npx gatehouse …): build if needed, then run the CLI.
import { buildIfNeeded } from '../scripts/build-if-needed.mjs';

buildIfNeeded();
const { run } = await import('../dist/cli/index.js');
process.exitCode = await run(process.argv);
