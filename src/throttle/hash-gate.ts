// The hash gate: a small semaphore around argon2. argon2 is memory-hard and runs on the
// libuv thread pool, so a login storm must wait in a bounded queue, and be refused beyond
// it, rather than exhaust memory or starve everything else (the forward-auth hot path).

import { AppError } from '../lib/errors.js';

export class HashGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    /** Hashes running at once. */
    readonly maxConcurrent: number,
    /** Hashes waiting for a slot; one more is refused at once. */
    readonly maxQueued: number,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError('maxConcurrent must be a positive integer');
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError('maxQueued must be a non-negative integer');
  }

  /** Hashes running now. */
  get active(): number {
    return this.running;
  }

  /** Hashes waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** True when one more hash would be refused: callers can refuse before doing any work. */
  get full(): boolean {
    return this.running >= this.maxConcurrent && this.waiting.length >= this.maxQueued;
  }

  /** Runs `work` when a slot is free; throws AppError 503 'busy' when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.maxConcurrent) {
      this.running += 1;
    } else {
      // Refusing fast is the point: a queued request holds its password and a socket.
      if (this.waiting.length >= this.maxQueued) throw busy();
      // release() hands its slot straight to us, so `running` stays counted.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running -= 1;
  }
}

export function busy(): AppError {
  return new AppError('busy', 503, 'gatehouse is busy checking other sign-ins right now. Wait a few seconds and try again.');
}
