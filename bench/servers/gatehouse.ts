// HTTP benchmark subject: the real gatehouse server (startServer) on a data dir prepared by
// bench/http.ts. Usage: node --import tsx bench/servers/gatehouse.ts <port> <dataDir>;
// prints "ready <port>"; SIGTERM drains and exits (so --cpu-prof can write its profile).

import { startServer } from '../../src/server.js';
import { gatehouseBenchConfig } from './gatehouse-config.js';

const [portArg, dataDir] = process.argv.slice(2);
if (!portArg || !dataDir) throw new Error('usage: gatehouse.ts <port> <dataDir>');
const port = Number(portArg);
const running = await startServer(gatehouseBenchConfig(dataDir, port));
process.once('SIGTERM', () => void running.stop().then(() => process.exit(0)));
process.stdout.write(`ready ${port}\n`);
