// Background upkeep of the throttle tables: forget quiet failure counters, old known
// addresses and ended rate-limit windows, so an attack leaves no lasting growth. In batches
// that yield to the event loop (src/db/batches.ts).

import type { Db } from '../db/connection.js';
import { periodic } from '../lib/periodic.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { purgeRateLimitHits } from './rate-limit-store.js';
import type { LoginRegulator } from './regulator.js';

/** Purges once now and then every `intervalMs`; returns a function that stops it. */
export function startThrottleSweeper(deps: { db: Db; clock: Clock; regulator: LoginRegulator }, intervalMs: number, log: Logger): () => void {
  return periodic(
    'throttle sweep',
    intervalMs,
    async (signal) => {
      const { counters, knownIps } = await deps.regulator.purge({ signal });
      const windows = await purgeRateLimitHits(deps.db, deps.clock.now(), { signal });
      if (counters || knownIps || windows) log.debug({ counters, knownIps, windows }, 'throttle sweep');
    },
    log,
  );
}
