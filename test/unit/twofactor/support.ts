// Shared set-up for the two-factor unit tests: a real context on a temp data dir with a
// fake clock, a user, and codes computed the way an authenticator app does.

import { rmSync } from 'node:fs';
import { Secret, TOTP } from 'otpauth';
import { createContext, type AppContext } from '../../../src/context.js';
import type { User } from '../../../src/users/repository.js';
import { FakeClock } from '../../support/clock.js';
import { addUser, tempDir, testConfig } from '../../support/harness.js';

export const STEP = 30_000;

/** The code an app shows at `at` (ms) for a base32 secret. */
export function codeAt(secret: string, at: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: at });
}

/** A six-digit code that is not valid anywhere in the ±1 window around `at`. */
export function wrongCode(secret: string, at: number): string {
  const valid = new Set([-1, 0, 1].map((d) => codeAt(secret, at + d * STEP)));
  for (let n = 0; ; n++) {
    const candidate = String((123_456 + n * 7919) % 1_000_000).padStart(6, '0');
    if (!valid.has(candidate)) return candidate;
  }
}

export interface World {
  dir: string;
  ctx: AppContext;
  clock: FakeClock;
  alice: User;
  close(): void;
}

export async function world(config: Record<string, unknown> = {}): Promise<World> {
  const dir = tempDir('gatehouse-2fa-');
  const clock = new FakeClock();
  const ctx = createContext(testConfig(dir, config), { clock, changePollMs: 0 });
  const alice = await addUser(ctx, 'alice');
  return {
    dir,
    ctx,
    clock,
    alice,
    close() {
      ctx.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Begins and confirms enrollment; returns the base32 secret. Moves the clock three steps
 * on, so the confirming code's window is over and every code around now is unused.
 */
export async function enroll(w: World, user: User = w.alice): Promise<string> {
  const { secret } = await w.ctx.twoFactor.totp.begin(user);
  const confirmed = w.ctx.twoFactor.totp.confirm(user, codeAt(secret, w.clock.now()));
  if (!confirmed.ok) throw new Error(`enrollment not confirmed: ${confirmed.reason}`);
  w.clock.advance(3 * STEP);
  return secret;
}
