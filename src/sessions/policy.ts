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

/**
 * A visitor who has not signed in holds a session only for the login form's CSRF token:
 * it lives briefly, and its ended row is purged soon (nothing to audit about it).
 */
export const ANONYMOUS_IDLE_MS = 15 * 60_000;
export const ANONYMOUS_ABSOLUTE_MS = 2 * 3_600_000;
export const ANONYMOUS_RETENTION_MS = 86_400_000;

/** Lifetimes for a new session: "keep me signed in" trades the idle limit for a longer life. */
export function lifetimesFor(policy: SessionPolicy, options: { remember: boolean; signedIn: boolean }): { idleMs: number; absoluteMs: number } {
  if (!options.signedIn) {
    return { idleMs: Math.min(policy.idleMs, ANONYMOUS_IDLE_MS), absoluteMs: Math.min(policy.absoluteMs, ANONYMOUS_ABSOLUTE_MS) };
  }
  if (options.remember && policy.rememberMs > 0) return { idleMs: policy.rememberMs, absoluteMs: policy.rememberMs };
  return { idleMs: policy.idleMs, absoluteMs: policy.absoluteMs };
}
