// Background jobs (sweeps, purges): once at start, then every interval; a run never overlaps
// the previous one, a failure is logged (the next run tries again), and stopping aborts the
// run in progress between two of its batches, before the database is closed.

import type { Logger } from './log.js';

/** Starts `work` now and every `intervalMs`; returns a function that stops it. */
export function periodic(name: string, intervalMs: number, work: (signal: AbortSignal) => Promise<void>, log: Logger): () => void {
  const stop = new AbortController();
  let running = false;
  const run = () => {
    if (running || stop.signal.aborted) return;
    running = true;
    let started: Promise<void>;
    try {
      started = work(stop.signal);
    } catch (err) {
      started = Promise.reject(err);
    }
    started
      .catch((err: unknown) => log.error({ err }, `${name} failed`))
      .finally(() => {
        running = false;
      });
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  run();
  return () => {
    stop.abort();
    clearInterval(timer);
  };
}
