// Passport wiring: the local strategy checks credentials through Accounts; the session
// holds only the user id, and every request reloads the user so a disabled or deleted
// account stops working at once.

import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import type { AppContext } from '../context.js';
import type { User as GatehouseUser } from '../users/repository.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Passport's typing extends this global.
  namespace Express {
    interface User extends GatehouseUser {}
  }
}

/** With a correct password: the user's session epoch read before it was checked. */
export interface LoginSuccessInfo {
  epoch: number;
}

export interface LoginFailureInfo {
  reason: 'bad-credentials' | 'user-disabled';
  username: string | null;
}

export function createPassport(ctx: AppContext): InstanceType<typeof Passport> {
  const passport = new Passport();
  passport.use(
    new LocalStrategy({ usernameField: 'username', passwordField: 'password' }, (username, password, done) => {
      ctx.accounts.verifyCredentials(username, password.normalize('NFKC')).then(
        (result) =>
          result.ok
            ? done(null, result.user, { epoch: result.epoch } satisfies LoginSuccessInfo as never)
            : done(null, false, { reason: result.reason, username: result.username } as LoginFailureInfo as never),
        (err: unknown) => done(err),
      );
    }),
  );
  // Sessions are issued by issueSession (src/http/session.ts), never by req.login: the
  // serializer is only what passport's session support expects to exist.
  passport.serializeUser<number>((user: Express.User, done: (err: unknown, id?: number) => void) => done(null, user.id));
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
