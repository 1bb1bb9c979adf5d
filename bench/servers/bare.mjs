// HTTP benchmark baseline: a bare Node http server answering 200 with a Remote-User header.
// Usage: node bench/servers/bare.mjs <port>; prints "ready <port>".

import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': 3, 'Remote-User': 'bench' });
  res.end('OK\n');
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
