// Passport wiring: the local strategy checks credentials through Accounts; the session
// holds only the user id, and every request reloads the user so a disabled or deleted
// account stops working at once.

import type { Request } from 'express';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { AppContext } from '../context.js';
import { clientIp } from '../theft/client-ip.js';
import type { RememberedMethod, SecondFactorMethod } from '../sessions/types.js';
import type { User as GatehouseUser } from '../users/repository.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Passport's typing extends this global.
  namespace Express {
    interface User extends GatehouseUser {}
  }
}

export interface LoginFailureInfo {
  reason: 'bad-credentials' | 'user-disabled';
  username: string | null;
}

/** Sign-in options read from the already-validated login form. */
export interface LoginIntent {
  remember: boolean;
  /** The second factor just verified (src/auth/second-factor-routes.ts): the session is level 2. */
  secondFactor?: SecondFactorMethod | RememberedMethod;
  /** A passkey with user verification and no password (two factors in one): recorded as such. */
  passwordless?: boolean;
}

const intents = new WeakMap<Request, LoginIntent>();
export const setLoginIntent = (req: Request, intent: LoginIntent): void => void intents.set(req, intent);

export function createPassport(ctx: AppContext): InstanceType<typeof Passport> {
  const passport = new Passport();
  passport.use(
    new LocalStrategy({ usernameField: 'username', passwordField: 'password' }, (username, password, done) => {
      ctx.accounts.verifyCredentials(username, password.normalize('NFKC')).then(
        (result) => (result.ok ? done(null, result.user) : done(null, false, { reason: result.reason, username: result.username } as LoginFailureInfo as never)),
        (err: unknown) => done(err),
      );
    }),
  );
  // Runs inside req.login(), after the session ID was regenerated and before the new
  // session's first write: so that write already carries the IP binding and lifetime.
  passport.serializeUser<number>((req: Request, user: Express.User, done: (err: unknown, id?: number) => void) => {
    const intent = intents.get(req);
    const remember = (intent?.remember ?? false) && ctx.config.session.remember_me > 0;
    const now = ctx.clock.now();
    const factor = intent?.secondFactor;
    req.session.auth = {
      at: now,
      ip: clientIp(req),
      userAgent: (req.get('user-agent') ?? '').slice(0, 256),
      remember,
      ...(factor ? { level: 2 as const, secondFactorAt: now, methods: intent?.passwordless ? [factor] : ['password' as const, factor] } : { level: 1 as const, methods: ['password' as const] }),
    };
    if (remember) req.session.cookie.maxAge = ctx.config.session.remember_me;
    done(null, user.id);
  });
  passport.deserializeUser<number>((id, done) => {
    try {
      const user = typeof id === 'number' ? ctx.users.findById(id) : null;
      done(null, user && !user.disabled ? user : false);
    } catch (err) {
      done(err);
    }
  });
  return passport;
}
