// Background upkeep of the session table: write coalesced touches every touch interval,
// mark expired sessions and purge old soft-deleted ones every sweep interval (in batches
// that yield to the event loop, see src/db/batches.ts).

import type { Logger } from '../lib/log.js';
import { periodic } from '../lib/periodic.js';
import type { Sessions } from './sessions.js';

export function startSweeper(store: Sessions, intervals: { touchMs: number; sweepMs: number }, log: Logger): () => void {
  const flush = setInterval(() => {
    try {
      store.flushTouches();
    } catch (err) {
      log.error({ err }, 'session touch flush failed');
    }
  }, intervals.touchMs);
  flush.unref();
  const stopSweep = periodic(
    'session sweep',
    intervals.sweepMs,
    async (signal) => {
      const { expired, purged } = await store.sweep({ signal });
      if (expired || purged) log.info({ expired, purged }, 'session sweep');
    },
    log,
  );
  return () => {
    clearInterval(flush);
    stopSweep();
  };
}
