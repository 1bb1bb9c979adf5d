// Passwordless sign-in with a passkey (two_factor.passkey_sign_in): the login page asks for
// a discoverable credential (no username, no allowCredentials), the browser picks one, and
// the answer names the credential and so its user. User verification is required: the
// passkey (possession) plus its PIN or biometric (the UV flag) are two factors, so the
// session is level 2, exactly as after a password and a passkey (loginWithSecondFactor).
// No username is known in advance: failures are throttled per client IP by the login
// regulator. Every refusal is generic (nothing tells whether a credential or user exists).
// Off (the default): both endpoints answer 404.
// The login page's token is the pre-login double-submit one (src/http/pre-login-csrf.ts);
// the challenge needs a session row, so a new one is refused (503) while
// ANONYMOUS_SESSIONS_MAX pre-login sessions are live: anonymous traffic cannot grow the
// table without bound, and password sign-in is unaffected.

import type { Request, RequestHandler, Response } from 'express';
import { generateAuthenticationOptions, type AuthenticationResponseJSON } from '@simplewebauthn/server';
import { safeLocalPath, safeRedirectTarget } from '../access/redirect.js';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { clientIp } from '../theft/client-ip.js';
import { CHALLENGE_LIFETIME_MS, type RelyingParty, relyingPartyFor } from '../twofactor/passkeys.js';
import { destinationAfterSignIn } from './after-sign-in.js';
import { createSecondFactorPolicy } from '../twofactor/policy.js';
import { loginWithSecondFactor } from './second-factor-routes.js';
import { recordSignIn } from './sign-in-record.js';

declare module 'express-session' {
  interface SessionData {
    /** The challenge of a passwordless passkey sign-in in progress (single use, 5 min). */
    passkeyDiscoverChallenge?: { challenge: string; at: number };
  }
}

/** Live pre-login sessions (passkey challenges, pending second steps) above which no new challenge is stored. */
export const ANONYMOUS_SESSIONS_MAX = 2000;

/** The one message for every refused passkey sign-in. */
export const GENERIC_PASSKEY_FAILURE = 'That passkey was not accepted. Try again, or sign in with your password.';

const json = (res: Response, status: number, body: unknown): void => {
  res.status(status).set('Cache-Control', 'no-store').json(body);
};
const refuse = (res: Response, status: number, message: string): void => json(res, status, { error: { message } });

/** The UV bit of authenticatorData (flags byte after the 32-byte rpIdHash); the signature covers it. */
export function userVerified(authenticatorData: unknown): boolean {
  if (typeof authenticatorData !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(authenticatorData)) return false;
  const bytes = Buffer.from(authenticatorData, 'base64url');
  return bytes.length >= 37 && (bytes[32]! & 0x04) !== 0;
}

export function passkeySignInRoutes(ctx: AppContext, guards: Guards) {
  const enabled = (): boolean => ctx.config.two_factor.passkey_sign_in;
  const policy = createSecondFactorPolicy(ctx.config.two_factor);
  const cookieDomain = ctx.config.session.cookie_domain;
  const target = (rd: unknown): string | null => safeRedirectTarget(rd, cookieDomain) ?? safeLocalPath(rd);
  const ownerOf = ctx.db.prepare('SELECT user_id FROM webauthn_credentials WHERE credential_id = ?');

  const relyingParty = (req: Request): RelyingParty => relyingPartyFor(ctx.config.portal_url, req);

  const body = (req: Request): Record<string, unknown> => {
    const b = req.body as unknown;
    return b && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
  };

  /** For the login page (GET and a re-shown form): whether to offer "Sign in with a passkey". */
  const offer: RequestHandler = (_req, res, next) => {
    res.locals.passkeySignIn = enabled();
    next();
  };

  /** Off: the endpoints do not exist. */
  const available: RequestHandler = (_req, res, next) => (enabled() ? next() : refuse(res, 404, 'Not found.'));

  /** The login page's pre-login token, in X-CSRF-Token. */
  const csrf: RequestHandler = (req, res, next) => (guards.preLoginCsrfValid(req) ? next() : refuse(res, 403, 'This page had expired. Reload it and try again.'));

  const options: RequestHandler = async (req, res) => {
    // A browser that already holds a pre-login session reuses its row; a new one needs room.
    if (req.session.passkeyDiscoverChallenge === undefined && ctx.sessions.countAnonymousLive(ANONYMOUS_SESSIONS_MAX) >= ANONYMOUS_SESSIONS_MAX) {
      ctx.log.warn({ event: 'pre-login-sessions-full', max: ANONYMOUS_SESSIONS_MAX }, 'passkey sign-in refused: too many pre-login sessions');
      res.set('Retry-After', '60');
      return refuse(res, 503, 'Passkey sign-in is busy. Try again in a minute, or sign in with your password.');
    }
    const opts = await generateAuthenticationOptions({ rpID: relyingParty(req).rpID, timeout: CHALLENGE_LIFETIME_MS, userVerification: 'required' });
    req.session.passkeyDiscoverChallenge = { challenge: opts.challenge, at: ctx.clock.now() };
    json(res, 200, opts);
  };

  const signIn: RequestHandler = async (req, res, next) => {
    const ip = clientIp(req);
    const c = req.session.passkeyDiscoverChallenge;
    delete req.session.passkeyDiscoverChallenge; // one answer per challenge, right or wrong
    // Taken in the store too: of two requests sent at once with one cookie (each with its
    // own copy of the session), only one may answer the challenge.
    const taken = typeof c?.challenge === 'string' && ctx.sessions.takeSessionValue(req.sessionID, 'passkeyDiscoverChallenge.challenge', c.challenge);
    if (!c || !taken || ctx.clock.now() - c.at >= CHALLENGE_LIFETIME_MS) return refuse(res, 400, 'The passkey request had expired. Try again.');
    const verdict = ctx.regulator.check(ip, null);
    if (!verdict.allowed) {
      ctx.metrics.login('throttled');
      ctx.log.info({ event: 'login-throttled', ip, reason: verdict.reason, retryAfter: verdict.retryAfter, method: 'passkey' }, 'passkey sign-in throttled');
      res.set('Retry-After', String(verdict.retryAfter));
      return refuse(res, 429, GENERIC_PASSKEY_FAILURE);
    }
    const attempt = verdict.attempt;
    let settled = false;
    const fail = (reason: string, username: string | null = null): void => {
      settled = true;
      ctx.metrics.login('failed');
      try {
        ctx.audit.loginFailed({ username, ip, reason: 'bad-credentials' });
        ctx.log.info({ event: 'login-failed', ip, method: 'passkey', reason }, 'passkey sign-in refused');
      } finally {
        attempt.failed();
      }
      refuse(res, 401, GENERIC_PASSKEY_FAILURE);
    };
    try {
      const b = body(req);
      const response = b.response as Partial<AuthenticationResponseJSON> | undefined;
      if (!response || typeof response !== 'object' || typeof response.id !== 'string' || !response.response || typeof response.response !== 'object') {
        return fail('invalid-input');
      }
      const owner = ownerOf.get(response.id) as { user_id: number } | undefined;
      const user = owner ? ctx.users.findById(owner.user_id) : null;
      if (!user) return fail('unknown-credential');
      if (user.disabled) return fail('user-disabled', user.username);
      if (!userVerified(response.response.authenticatorData)) return fail('no-user-verification', user.username);
      // Read before the check: a revoke-all or password change meanwhile refuses the session.
      const epoch = ctx.sessions.epochOf(user.id);
      // Signature, challenge, origin, rpID and the counter rules: as for the second step.
      const result = await ctx.twoFactor.passkeys.authenticate(user, response as AuthenticationResponseJSON, c.challenge, relyingParty(req), ip);
      if (!result.ok) return fail(result.reason, user.username);
      settled = true;
      attempt.succeeded();
      const remember = b.remember === true && ctx.config.session.remember_me > 0;
      loginWithSecondFactor(ctx, req, res, user, 'passkey', remember, { passwordless: true, epoch });
      const session = recordSignIn(ctx, req, user, ip);
      ctx.log.info({ event: 'login-succeeded', user: user.username, ip, session, method: 'passkey-sign-in' }, 'signed in with a passkey');
      json(res, 200, { redirect: destinationAfterSignIn(ctx, policy, user, ip, target(b.rd)) });
    } catch (err) {
      if (!settled) attempt.abandon();
      next(err);
    }
  };

  return { offer, available, csrf, options, signIn };
}
