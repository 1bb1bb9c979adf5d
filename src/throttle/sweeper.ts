// Background upkeep of the throttle tables: forget quiet failure counters, old known
// addresses and ended rate-limit windows, so an attack leaves no lasting growth.

import type { Db } from '../db/connection.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import { purgeRateLimitHits } from './rate-limit-store.js';
import type { LoginRegulator } from './regulator.js';

/** Purges once now and then every `intervalMs`; returns a function that stops it. */
export function startThrottleSweeper(deps: { db: Db; clock: Clock; regulator: LoginRegulator }, intervalMs: number, log: Logger): () => void {
  const sweep = () => {
    try {
      const { counters, knownIps } = deps.regulator.purge();
      const windows = purgeRateLimitHits(deps.db, deps.clock.now());
      if (counters || knownIps || windows) log.debug({ counters, knownIps, windows }, 'throttle sweep');
    } catch (err) {
      log.error({ err }, 'throttle sweep failed');
    }
  };
  sweep();
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
