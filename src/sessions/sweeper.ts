// Background upkeep of the session table: write coalesced touches every touch interval,
// mark expired sessions and purge old soft-deleted ones every sweep interval.

import type { Logger } from '../lib/log.js';
import type { SqliteSessionStore } from './store.js';

export function startSweeper(store: SqliteSessionStore, intervals: { touchMs: number; sweepMs: number }, log: Logger): () => void {
  const guard = (what: string, work: () => void) => () => {
    try {
      work();
    } catch (err) {
      log.error({ err }, `session ${what} failed`);
    }
  };
  const flush = setInterval(guard('touch flush', () => store.flushTouches()), intervals.touchMs);
  const sweep = setInterval(
    guard('sweep', () => {
      const { expired, purged } = store.sweep();
      if (expired || purged) log.info({ expired, purged }, 'session sweep');
    }),
    intervals.sweepMs,
  );
  flush.unref();
  sweep.unref();
  guard('sweep', () => store.sweep())();
  return () => {
    clearInterval(flush);
    clearInterval(sweep);
  };
}
