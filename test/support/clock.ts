// A clock the test moves by hand.

import type { Clock } from '../../src/lib/clock.js';

export class FakeClock implements Clock {
  constructor(private t = Date.UTC(2026, 0, 1, 12, 0, 0)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
