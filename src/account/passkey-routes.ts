// Passkeys (WebAuthn) over HTTP: registering, naming and removing them on
// /account/two-factor, and using one as the second step of sign-in (/login/second-factor).
// The JSON endpoints take the page's CSRF token in X-CSRF-Token; each ceremony's challenge
// is kept in the session, answerable once, for 5 minutes. public/passkeys.js drives them.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { safeLocalPath, safeRedirectTarget } from '../access/redirect.js';
import { destinationAfterSignIn } from '../auth/after-sign-in.js';
import { createSecondFactorPolicy } from '../twofactor/policy.js';
import { rememberThisDevice } from '../auth/remember-device-cookie.js';
import { loginWithSecondFactor, PENDING_SECOND_FACTOR_MS } from '../auth/second-factor-routes.js';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import { offerSignOutOthers, signedOutNote } from './two-factor-routes.js';
import type { Guards } from '../http/guards.js';
import { strictJson } from '../http/json-body.js';
import { AppError } from '../lib/errors.js';
import { handleOf, hashSessionId } from '../sessions/store.js';
import { authLevel } from '../sessions/types.js';
import { clientIp } from '../theft/client-ip.js';
import { CHALLENGE_LIFETIME_MS, cleanPasskeyName, type RelyingParty, relyingPartyFor } from '../twofactor/passkeys.js';
import type { User } from '../users/repository.js';
import { recordSignIn } from '../auth/sign-in-record.js';

interface PasskeyChallenge {
  challenge: string;
  at: number;
  purpose: 'register' | 'authenticate';
  userId: number;
}

declare module 'express-session' {
  interface SessionData {
    /** The WebAuthn challenge of a ceremony in progress (single use). */
    passkeyChallenge?: PasskeyChallenge;
  }
}

/** The browser library's bundled build, served as /vendor/simplewebauthn-browser.js (no CDN). */
export const browserBundlePath = join(dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js');

const json = (res: Response, status: number, body: unknown): void => {
  res.status(status).set('Cache-Control', 'no-store').json(body);
};
const refuse = (res: Response, status: number, message: string): void => json(res, status, { error: { message } });

const who = (user: Express.User) => `user:${user.username}`;

export function passkeyRoutes(ctx: AppContext, guards: Guards) {
  const passkeys = ctx.twoFactor.passkeys;
  const policy = createSecondFactorPolicy(ctx.config.two_factor);
  const cookieDomain = ctx.config.session.cookie_domain;
  const target = (rd: unknown): string | null => safeRedirectTarget(rd, cookieDomain) ?? safeLocalPath(rd);

  const relyingParty = (req: Request): RelyingParty => relyingPartyFor(ctx.config.portal_url, req);

  /**
   * Takes the session's challenge for this purpose and user: gone after one answer, stale
   * after 5 min. Taken in the store, not just from this request's copy of the session: two
   * requests sent at once with one cookie each hold a copy with the challenge, and only
   * one of them may answer it.
   */
  function takeChallenge(req: Request, purpose: PasskeyChallenge['purpose'], userId: number): string | null {
    const c = req.session.passkeyChallenge;
    delete req.session.passkeyChallenge;
    if (!c || c.purpose !== purpose || c.userId !== userId || typeof c.challenge !== 'string') return null;
    if (!ctx.sessions.takeSessionValue(req.sessionID, 'passkeyChallenge.challenge', c.challenge)) return null;
    if (ctx.clock.now() - c.at >= CHALLENGE_LIFETIME_MS) return null;
    return c.challenge;
  }

  const parseJson = strictJson('16kb');
  /** JSON bodies only; a malformed one is a 400, never a 500. */
  const jsonBody: RequestHandler = (req, res, next) => {
    if (!req.is('application/json')) return refuse(res, 415, 'Send the body as application/json.');
    parseJson(req, res, (err?: unknown) => (err ? refuse(res, 400, 'The body is not valid JSON.') : next()));
  };

  /** CSRF for the JSON endpoints: a JSON refusal rather than an HTML page. */
  const csrf: RequestHandler = (req, res, next) => (guards.csrfValid(req) ? next() : refuse(res, 403, 'This page had expired. Reload it and try again.'));

  const body = (req: Request): Record<string, unknown> => {
    const b = req.body as unknown;
    return b && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : {};
  };

  // ---- registration (signed-in, /account/two-factor) --------------------------------------

  const registrationOptions: RequestHandler = async (req, res) => {
    const user = req.user as Express.User;
    const options = await passkeys.registrationOptions(user, relyingParty(req));
    req.session.passkeyChallenge = { challenge: options.challenge, at: ctx.clock.now(), purpose: 'register', userId: user.id };
    json(res, 200, options);
  };

  const register: RequestHandler = async (req, res) => {
    const user = req.user as Express.User;
    const b = body(req);
    const challenge = takeChallenge(req, 'register', user.id);
    if (!challenge) return refuse(res, 400, 'The request for a passkey had expired. Try again.');
    const response = b.response;
    if (!response || typeof response !== 'object') return refuse(res, 400, 'No passkey was sent.');
    const name = cleanPasskeyName(b.name, `Passkey ${passkeys.count(user.id) + 1}`);
    // The account's first factor ends the user's other sessions (this one stays).
    const added = await ctx.twoFactor.registerPasskey(user, response as RegistrationResponseJSON, challenge, relyingParty(req), name, clientIp(req), req.sessionID);
    if (!added) return refuse(res, 400, 'That passkey could not be registered. Try again.');
    const { passkey } = added;
    ctx.log.info({ event: 'passkey-registered', user: user.username, passkey: passkey.id, sessionsRevoked: added.sessionsRevoked }, 'passkey registered');
    // The passkey just used is a second factor: a level-1 session becomes level 2 under a
    // new ID (no second prompt for the page that required enrollment), as for an app.
    if (authLevel(req.session.auth) !== 2) loginWithSecondFactor(ctx, req, res, user as User, 'passkey', req.session.auth?.remember ?? false);
    addFlash(req, `Passkey “${passkey.name}” added. Signing in now asks for it (or another second factor) after your password.${signedOutNote(added.sessionsRevoked)}`);
    if (!added.first) offerSignOutOthers(req);
    json(res, 201, { id: passkey.id, name: passkey.name, redirect: '/account/two-factor' });
  };

  const idOf = (req: Request): number | null => {
    const id = Number(req.params.id);
    return Number.isSafeInteger(id) && id > 0 ? id : null;
  };

  const rename: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const id = idOf(req);
    const name = cleanPasskeyName((req.body as Record<string, unknown> | undefined)?.name, '');
    if (id === null || !name) throw new AppError('invalid-input', 400, 'Give the passkey a name of 1 to 64 characters.');
    if (!passkeys.rename(user, id, name)) throw new AppError('not-found', 404, 'There is no such passkey.');
    addFlash(req, 'Passkey renamed.');
    res.redirect(303, '/account/two-factor#passkeys');
  };

  const remove: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const id = idOf(req);
    if (id === null || !passkeys.remove(user, id, who(user), clientIp(req))) throw new AppError('not-found', 404, 'There is no such passkey.');
    ctx.log.info({ event: 'passkey-removed', user: user.username, passkey: id }, 'passkey removed');
    addFlash(req, 'Passkey removed.');
    offerSignOutOthers(req);
    res.redirect(303, '/account/two-factor#passkeys');
  };

  // ---- the second step of sign-in ----------------------------------------------------------

  /** The user this session may finish signing in (pending) or step up (level 1), else null. */
  function signingIn(req: Request): { user: User; pending: boolean; rd: string | null; remember: boolean; epoch?: number } | null {
    const pending = req.session?.pendingSecondFactor;
    if (pending && ctx.clock.now() - pending.at < PENDING_SECOND_FACTOR_MS) {
      const user = ctx.users.findById(pending.userId);
      return user && !user.disabled ? { user, pending: true, rd: pending.rd, remember: pending.remember, epoch: pending.epoch } : null;
    }
    const user = req.user as User | undefined;
    if (user && authLevel(req.session.auth) !== 2 && ctx.twoFactor.isEnabled(user.id)) {
      return { user, pending: false, rd: target(body(req).rd), remember: req.session.auth?.remember ?? false };
    }
    return null;
  }

  const loginOptions: RequestHandler = async (req, res) => {
    const s = signingIn(req);
    if (!s) return refuse(res, 401, 'Your sign-in had expired. Start again.');
    if (passkeys.count(s.user.id) === 0) return refuse(res, 404, 'This account has no passkey.');
    const options = await passkeys.authenticationOptions(s.user.id, relyingParty(req));
    req.session.passkeyChallenge = { challenge: options.challenge, at: ctx.clock.now(), purpose: 'authenticate', userId: s.user.id };
    json(res, 200, options);
  };

  const login: RequestHandler = async (req, res) => {
    const s = signingIn(req);
    if (!s) return refuse(res, 401, 'Your sign-in had expired. Start again.');
    const { user } = s;
    const ip = clientIp(req);
    const challenge = takeChallenge(req, 'authenticate', user.id);
    if (!challenge) return refuse(res, 400, 'The passkey request had expired. Try again.');
    const refusal = ctx.twoFactor.limiter.refusal(user, ip);
    if (refusal) {
      res.set('Retry-After', String(refusal.retryAfter));
      return refuse(res, 429, `Too many failed attempts. Try again in ${refusal.retryAfter} seconds.`);
    }
    const response = body(req).response;
    if (!response || typeof response !== 'object') return refuse(res, 400, 'No passkey answer was sent.');
    const verdict = await passkeys.authenticate(user, response as AuthenticationResponseJSON, challenge, relyingParty(req), ip);
    if (!verdict.ok) {
      ctx.twoFactor.limiter.failed(user, ip);
      ctx.log.info({ event: 'second-factor-failed', user: user.username, ip, method: 'passkey', reason: verdict.reason }, 'passkey refused');
      return refuse(res, 401, 'That passkey was not accepted. Try again, or enter a code.');
    }
    ctx.twoFactor.limiter.succeeded(user.id);
    // The pending state is used up by this sign-in; a step-up rests on the live session.
    loginWithSecondFactor(ctx, req, res, user, 'passkey', s.remember, s.pending ? { epoch: s.epoch, consume: true } : {});
    if (body(req).remember_device === true) rememberThisDevice(ctx, req, res, user.id);
    const session = s.pending ? recordSignIn(ctx, req, user, ip) : handleOf(hashSessionId(req.sessionID));
    ctx.log.info({ event: s.pending ? 'login-succeeded' : 'second-factor-step-up', user: user.username, ip, session, method: 'passkey' }, 'passkey accepted');
    json(res, 200, { redirect: destinationAfterSignIn(ctx, policy, user, ip, s.rd) });
  };

  const browserBundle: RequestHandler = (_req, res) => {
    res.set('Cache-Control', 'public, max-age=3600').type('application/javascript').sendFile(browserBundlePath);
  };

  return { jsonBody, csrf, registrationOptions, register, rename, remove, loginOptions, login, browserBundle };
}
