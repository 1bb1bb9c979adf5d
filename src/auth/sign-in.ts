// Signing a user in once their credentials are checked: the session's authentication facts
// (level, methods, remember) and a new session ID through issueSession, whatever the path
// (password, second step, step-up, remembered device, passkey).

import type { Request, Response } from 'express';
import type { AppContext } from '../context.js';
import { issueSession } from '../http/session.js';
import type { RememberedMethod, SecondFactorMethod } from '../sessions/types.js';
import type { User } from '../users/repository.js';

export interface SignInIntent {
  remember: boolean;
  /** The second factor just verified: the session is level 2. */
  secondFactor?: SecondFactorMethod | RememberedMethod;
  /** A passkey with user verification and no password (two factors in one): recorded as such. */
  passwordless?: boolean;
  /**
   * The user's session epoch read with the credential, before it was checked (a sign-in).
   * Absent when a signed-in session steps up: the new ID then rests on that session.
   */
  epoch?: number;
  /** The request's pending state (second step) is used up: its session must still be live. */
  consume?: boolean;
}

/** Issues the new session ID of a completed sign-in or step-up; 401 if it may not be issued. */
export function signIn(ctx: AppContext, req: Request, res: Response, user: User, intent: SignInIntent): void {
  const now = ctx.clock.now();
  const factor = intent.secondFactor;
  issueSession(ctx, req, res, {
    user,
    ...(intent.epoch !== undefined ? { epoch: intent.epoch } : {}),
    ...(intent.consume ? { consume: true } : {}),
    auth: {
      at: now,
      remember: intent.remember && ctx.config.session.remember_me > 0,
      ...(factor
        ? { level: 2 as const, secondFactorAt: now, methods: intent.passwordless ? [factor] : ['password' as const, factor] }
        : { level: 1 as const, methods: ['password' as const] }),
    },
  });
}
