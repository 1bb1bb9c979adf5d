// Session lifetimes from config: idle and absolute limits for normal and remembered sessions.

import type { Config } from '../config/schema.js';

export interface SessionPolicy {
  idleMs: number;
  absoluteMs: number;
  rememberMs: number;
  touchIntervalMs: number;
  retentionMs: number;
  cacheSize: number;
}

export function sessionPolicy(config: Config): SessionPolicy {
  const s = config.session;
  return {
    idleMs: s.inactivity,
    absoluteMs: s.expiration,
    rememberMs: s.remember_me,
    touchIntervalMs: s.touch_interval,
    retentionMs: s.retention,
    cacheSize: s.cache_size,
  };
}

/** Lifetimes for a new session: "keep me signed in" trades the idle limit for a longer life. */
export function lifetimesFor(policy: SessionPolicy, remember: boolean): { idleMs: number; absoluteMs: number } {
  if (remember && policy.rememberMs > 0) return { idleMs: policy.rememberMs, absoluteMs: policy.rememberMs };
  return { idleMs: policy.idleMs, absoluteMs: policy.absoluteMs };
}
