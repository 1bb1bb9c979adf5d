// The forward-auth endpoints' own, generous per-client-IP request budget. It lives in
// memory: the hot path must not write to SQLite per request, and this is an abuse cap for
// a misbehaving client, not login throttling (which is persisted, see src/throttle).

import type { Clock } from '../lib/clock.js';

export interface IpBuckets {
  /** Counts a request; returns 0 when allowed, else the seconds until the window resets. */
  take(ip: string): number;
}

interface Window {
  start: number;
  count: number;
}

/** Fixed windows per IP; at most `maxTracked` IPs are tracked (oldest dropped first). */
export function createIpBuckets(clock: Clock, options: { max: number; windowMs: number; maxTracked?: number }): IpBuckets {
  const windows = new Map<string, Window>();
  const maxTracked = options.maxTracked ?? 50_000;
  return {
    take(ip) {
      const now = clock.now();
      let w = windows.get(ip);
      if (!w || now - w.start >= options.windowMs) {
        if (w) windows.delete(ip);
        else if (windows.size >= maxTracked) windows.delete(windows.keys().next().value as string);
        w = { start: now, count: 0 };
        windows.set(ip, w);
      }
      w.count += 1;
      return w.count <= options.max ? 0 : Math.max(1, Math.ceil((w.start + options.windowMs - now) / 1000));
    },
  };
}
