// Background writes in bounded steps (SECURITY.md: no single step of a sweep or purge holds
// the event loop for more than a few milliseconds, whatever the row count): each step is one
// statement over at most SWEEP_BATCH rows found through an index, and between steps the
// event loop gets a turn, so requests waiting meanwhile are answered.

/** Rows per statement: a few milliseconds of SQLite work on a small machine. */
export const SWEEP_BATCH = 250;

/** Resolves after the I/O callbacks already waiting (setImmediate runs after the poll phase). */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface BatchOptions {
  /** Rows per step (default SWEEP_BATCH). */
  batch?: number;
  /** Stops between steps (at shutdown, before the database closes). */
  signal?: AbortSignal;
}

/**
 * Runs `step(limit)` until it handles fewer than `limit` rows (or `signal` aborts), yielding
 * between steps; returns how many rows the steps handled. A step must make progress: each
 * row it counts must leave the set it selects from (deleted, or marked so its index no
 * longer holds it), or carry a cursor forward.
 */
export async function inBatches(step: (limit: number) => number, options: BatchOptions = {}): Promise<number> {
  const limit = Math.max(1, Math.floor(options.batch ?? SWEEP_BATCH));
  let total = 0;
  for (;;) {
    if (options.signal?.aborted) return total;
    const done = step(limit);
    total += done;
    if (done < limit) return total;
    await yieldToEventLoop();
  }
}
