// HTTP benchmark subject: the real, compiled gatehouse server (dist/, as `npm start` runs
// it) on a data dir prepared by bench/http.ts. Usage: node bench/servers/gatehouse.mjs
// <port> <dataDir> [<JSON of session settings to override>]; prints "ready <port>";
// SIGTERM drains and exits (for --cpu-prof).

import { readFileSync } from 'node:fs';
import { validateConfig } from '../../dist/config/load.js';
import { startServer } from '../../dist/server.js';

const [portArg, dataDir, overrides] = process.argv.slice(2);
if (!portArg || !dataDir) throw new Error('usage: gatehouse.mjs <port> <dataDir>');
const port = Number(portArg);
const raw = JSON.parse(readFileSync(new URL('./gatehouse-config.json', import.meta.url), 'utf8'));
const extra = overrides ? JSON.parse(overrides) : {};
const config = validateConfig({ ...raw, session: { ...raw.session, ...extra.session }, data_dir: dataDir, server: { host: '127.0.0.1', port }, log: { level: 'silent' } }, 'bench');
const running = await startServer(config);
process.once('SIGTERM', () => void running.stop().then(() => process.exit(0)));
process.stdout.write(`ready ${port}\n`);
