// `npm run bench`: runs every benchmark against its baseline in one process run and
// prints the figures side by side with ratios (not a pass/fail test).

import { benchHttp, formatHttp } from './http.js';
import { benchLoginStorm, formatLoginStorm } from './login-storm.js';
import { benchStores } from './store.js';
import { benchSweep, formatSweep } from './sweep.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  console.log(`gatehouse benchmarks — node ${process.version}, ${new Date().toISOString()}\n`);
  console.log('Session store, sequential operations (ops/s): the gatehouse session store vs connect-sqlite3');
  const rows = await benchStores();
  const header = ['operation', 'gatehouse', 'connect-sqlite3', 'ratio'];
  const lines = rows.map((r) => [r.operation, fmt(r.gatehouse), fmt(r.baseline), `${(r.gatehouse / r.baseline).toFixed(1)}x`]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const print = (cells: string[]) => console.log(cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  '));
  print(header);
  for (const l of lines) print(l);
  console.log(`\nRSS after the store benchmark: ${Math.round(process.memoryUsage().rss / 1048576)} MB`);
  console.log('');
  console.log(formatHttp(await benchHttp()));
  console.log('');
  console.log(formatLoginStorm(await benchLoginStorm()));
  console.log('');
  console.log(formatSweep(await benchSweep()));
}

await main();
