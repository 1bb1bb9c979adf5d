// The route table: every path, its method, whether it loads the session, and the named
// guards that protect it, in one place. Page chains read: transport, session, password
// current, role, recent authentication, form parsing, same-origin, CSRF, handler.

import type { RequestHandler } from 'express';
import { homeRoutes } from '../account/home.js';
import { passkeyRoutes } from '../account/passkey-routes.js';
import { passwordRoutes } from '../account/password-routes.js';
import { rememberedDeviceRoutes } from '../account/remembered-devices-routes.js';
import { accountRoutes } from '../account/routes.js';
import { twoFactorRoutes } from '../account/two-factor-routes.js';
import { adminAuditRoutes } from '../admin/audit.js';
import { adminBanRoutes } from '../admin/bans-page.js';
import { adminOverviewRoutes } from '../admin/overview.js';
import { adminSessionRoutes } from '../admin/sessions-page.js';
import { adminUserRoutes } from '../admin/users.js';
import { auditApi } from '../api/audit.js';
import { createApiGuards } from '../api/auth.js';
import { bansApi } from '../api/bans-api.js';
import { meApi } from '../api/me.js';
import { openApiRoute } from '../api/openapi.js';
import { sessionsApi } from '../api/sessions-api.js';
import { usersApi } from '../api/users.js';
import { loginRoutes } from '../auth/login-routes.js';
import { passkeySignInRoutes } from '../auth/passkey-sign-in.js';
import { secondFactorRoutes } from '../auth/second-factor-routes.js';
import { metricsRoute } from './metrics-route.js';
import type { createPassport } from '../auth/passport.js';
import { reauthRoutes } from '../auth/reauth-routes.js';
import { setupRoutes } from '../auth/setup-routes.js';
import type { AppContext } from '../context.js';
import type { Guards } from './guards.js';
import { healthRoute } from './health.js';

export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  /** false: answered before the session middleware (no cookie read, no store access). */
  session: boolean;
  chain: RequestHandler[];
}

export function routeTable(ctx: AppContext, g: Guards, passport: ReturnType<typeof createPassport>): Route[] {
  const login = loginRoutes(ctx, g, passport);
  const secondFactor = secondFactorRoutes(ctx, g);
  const setup = setupRoutes(ctx, g);
  const home = homeRoutes(ctx, g);
  const account = accountRoutes(ctx, g);
  const devices = rememberedDeviceRoutes(ctx);
  const password = passwordRoutes(ctx, g);
  const twoFactor = twoFactorRoutes(ctx, g);
  const passkey = passkeyRoutes(ctx, g);
  const passkeySignIn = passkeySignInRoutes(ctx, g);
  const api = createApiGuards(ctx, g);
  const reauth = reauthRoutes(ctx, g);
  const overview = adminOverviewRoutes(ctx, g);
  const users = adminUserRoutes(ctx, g);
  const sessions = adminSessionRoutes(ctx, g);
  const audit = adminAuditRoutes(ctx, g);
  const bans = adminBanRoutes(ctx, g);
  /**
   * Signed-in pages; a user who must change their password is sent to do that first, then
   * one whom the two_factor policy obliges to enroll (or to take the second step) likewise.
   */
  const page = [g.requireSession, g.requireCurrentPassword, g.requireSecondFactor];
  /** State-changing forms of signed-in pages. */
  const form = [g.form, g.sameOrigin, g.requireCsrf];
  const admin = [...page, g.requireAdmin];
  /** Admin changes to accounts: the admin's password again if the last sign-in is over 10 minutes old (and their second factor, which requireAdmin already demands). */
  const dangerous = [...admin, ...form, g.requireRecentAuth];
  const apiMe = meApi(ctx, g);
  const apiUsers = usersApi(ctx);
  const apiSessions = sessionsApi(ctx);
  const apiAudit = auditApi(ctx);
  const apiBans = bansApi(ctx);
  return [
    { method: 'get', path: '/healthz', session: false, chain: [healthRoute(ctx)] },
    // Prometheus scrapes: off unless metrics.enabled, and only from metrics.networks (404 otherwise).
    { method: 'get', path: '/metrics', session: false, chain: [metricsRoute(ctx)] },

    // ---- sign-in, first-run setup ------------------------------------------------------
    { method: 'get', path: '/login', session: true, chain: [g.requireSafeTransport, passkeySignIn.offer, login.page] },
    { method: 'post', path: '/login', session: true, chain: [g.requireSafeTransport, passkeySignIn.offer, g.form, g.sameOrigin, login.csrf, login.submit] },
    // The second step (TOTP or recovery code): a pending sign-in, or a step-up of a
    // password-only session. Not the page chain: a pending session is not signed in.
    { method: 'get', path: '/login/second-factor', session: true, chain: [g.requireSafeTransport, secondFactor.page] },
    { method: 'post', path: '/login/second-factor', session: true, chain: [g.requireSafeTransport, g.form, g.sameOrigin, secondFactor.csrf, secondFactor.submit] },
    // A passkey as the second step: JSON for public/passkeys.js (CSRF token in X-CSRF-Token).
    { method: 'post', path: '/login/passkey/options', session: true, chain: [g.requireSafeTransport, passkey.jsonBody, g.sameOrigin, passkey.csrf, passkey.loginOptions] },
    { method: 'post', path: '/login/passkey', session: true, chain: [g.requireSafeTransport, passkey.jsonBody, g.sameOrigin, passkey.csrf, passkey.login] },
    // Passwordless: a discoverable passkey with user verification (two_factor.passkey_sign_in; else 404).
    // CSRF: the login page's pre-login token (no session row per visitor).
    { method: 'post', path: '/login/passkey/discover/options', session: true, chain: [g.requireSafeTransport, passkeySignIn.available, passkey.jsonBody, g.sameOrigin, passkeySignIn.csrf, passkeySignIn.options] },
    { method: 'post', path: '/login/passkey/discover', session: true, chain: [g.requireSafeTransport, passkeySignIn.available, passkey.jsonBody, g.sameOrigin, passkeySignIn.csrf, passkeySignIn.signIn] },
    // The WebAuthn browser library (@simplewebauthn/browser's bundle, from node_modules).
    { method: 'get', path: '/vendor/simplewebauthn-browser.js', session: false, chain: [passkey.browserBundle] },
    // GET: a page with one sign-out button, for apps' "Sign out" links (?rd= an app URL); changes nothing.
    // Not the page chain: a user held at a new password or enrollment may still sign out.
    { method: 'get', path: '/logout', session: true, chain: [login.logoutPage] },
    { method: 'post', path: '/logout', session: true, chain: [g.form, login.skipIfSignedOut, g.sameOrigin, g.requireCsrf, login.logout] },

    { method: 'get', path: '/setup', session: true, chain: [g.requireSafeTransport, setup.page] },
    { method: 'post', path: '/setup', session: true, chain: [g.requireSafeTransport, g.form, g.sameOrigin, g.requireCsrf, setup.submit] },

    // Re-authentication for requests that are not page forms (g.requireRecentAuth sends them here; page forms get the prompt in their answer).
    { method: 'get', path: '/reauth', session: true, chain: [g.requireSafeTransport, ...page, reauth.page] },
    { method: 'post', path: '/reauth', session: true, chain: [g.requireSafeTransport, ...page, ...form, reauth.submit] },

    { method: 'get', path: '/', session: true, chain: [...page, home.home] },

    // ---- account pages (src/account) -------------------------------------------------
    { method: 'get', path: '/account', session: true, chain: [...page, account.overview] },
    { method: 'post', path: '/account/sessions/revoke-others', session: true, chain: [...page, ...form, account.revokeOthers] },
    { method: 'post', path: '/account/sessions/:handle/revoke', session: true, chain: [...page, ...form, account.revokeSession] },
    // Not requireCurrentPassword: a forced password change is done on this very page. The
    // form asks for the password; once the account has a second factor, the session must have passed it.
    { method: 'get', path: '/account/password', session: true, chain: [g.requireSafeTransport, g.requireSession, password.page] },
    { method: 'post', path: '/account/password', session: true, chain: [g.requireSafeTransport, g.requireSession, ...form, g.requireSecondFactorPassed, password.submit] },
    { method: 'get', path: '/account/data', session: true, chain: [...page, account.downloadData] },
    { method: 'post', path: '/account/delete-request', session: true, chain: [g.requireSafeTransport, ...page, ...form, account.requestDeletion] },
    { method: 'post', path: '/account/delete-request/cancel', session: true, chain: [...page, ...form, account.cancelDeletion] },
    { method: 'post', path: '/account/tokens', session: true, chain: [...page, ...form, g.requireRecentAuth, account.createToken] },
    { method: 'post', path: '/account/tokens/:id/revoke', session: true, chain: [...page, ...form, account.revokeToken] },
    // Forgetting a remembered device protects (no fresh password), but once the account has a second factor only a session that passed it may.
    { method: 'post', path: '/account/devices/:id/revoke', session: true, chain: [...page, ...form, g.requireSecondFactorPassed, devices.revoke] },
    // Second factors: changing them needs a recent authentication and, once the account has
    // a factor, a session that passed it (requireRecentAuth); confirming a set-up begun that
    // way needs no fresh password (the code proves the app has the new secret).
    { method: 'get', path: '/account/two-factor', session: true, chain: [...page, twoFactor.page] },
    { method: 'post', path: '/account/two-factor/totp', session: true, chain: [...page, ...form, g.requireRecentAuth, twoFactor.beginTotp] },
    { method: 'post', path: '/account/two-factor/totp/confirm', session: true, chain: [...page, ...form, g.requireSecondFactorPassed, twoFactor.confirmTotp] },
    { method: 'post', path: '/account/two-factor/recovery-codes', session: true, chain: [...page, ...form, g.requireRecentAuth, twoFactor.regenerateCodes] },
    { method: 'post', path: '/account/two-factor/remove', session: true, chain: [...page, ...form, g.requireRecentAuth, twoFactor.remove] },
    // Passkeys: registering needs a recent authentication (options are JSON, the page's
    // CSRF token in X-CSRF-Token); renaming is harmless, removing needs recent auth.
    { method: 'post', path: '/account/two-factor/passkeys/register/options', session: true, chain: [...page, passkey.jsonBody, g.sameOrigin, passkey.csrf, g.requireRecentAuth, passkey.registrationOptions] },
    { method: 'post', path: '/account/two-factor/passkeys/register', session: true, chain: [...page, passkey.jsonBody, g.sameOrigin, passkey.csrf, g.requireSecondFactorPassed, passkey.register] },
    { method: 'post', path: '/account/two-factor/passkeys/:id/rename', session: true, chain: [...page, ...form, passkey.rename] },
    { method: 'post', path: '/account/two-factor/passkeys/:id/delete', session: true, chain: [...page, ...form, g.requireRecentAuth, passkey.remove] },
    // The strength meter: signed-in users, or the setup page's visitor with its setup token
    // (X-Setup-Token); anyone else 401/403 before any work. Each estimate is charged to the
    // user's strength budget (30/min), which every password form and API shares.
    { method: 'post', path: '/password/strength', session: true, chain: [g.sameOrigin, password.strengthAccess, g.requireCsrf, password.json, password.strength] },

    // ---- admin pages (src/admin) -------------------------------------------------------
    { method: 'get', path: '/admin', session: true, chain: [...admin, overview.page] },
    { method: 'get', path: '/admin/users', session: true, chain: [...admin, users.list] },
    { method: 'get', path: '/admin/users/new', session: true, chain: [...admin, users.newForm] },
    { method: 'post', path: '/admin/users', session: true, chain: [g.requireSafeTransport, ...dangerous, users.create] },
    { method: 'get', path: '/admin/users/:username', session: true, chain: [...admin, users.show] },
    { method: 'post', path: '/admin/users/:username', session: true, chain: [...dangerous, users.update] },
    { method: 'post', path: '/admin/users/:username/password', session: true, chain: [g.requireSafeTransport, ...dangerous, users.resetPassword] },
    { method: 'post', path: '/admin/users/:username/disable', session: true, chain: [...dangerous, users.disable] },
    { method: 'post', path: '/admin/users/:username/enable', session: true, chain: [...dangerous, users.enable] },
    { method: 'post', path: '/admin/users/:username/delete', session: true, chain: [...dangerous, users.remove] },
    { method: 'post', path: '/admin/users/:username/reset-two-factor', session: true, chain: [...dangerous, users.resetTwoFactor] },
    // Declining keeps the account as it is: protective, no re-authentication.
    { method: 'post', path: '/admin/users/:username/deletion-request/decline', session: true, chain: [...admin, ...form, users.declineDeletion] },
    // An action's address opened with GET (back from /reauth without a Referer): its user's page.
    { method: 'get', path: '/admin/users/:username/:action', session: true, chain: [...admin, users.actionAddress] },
    { method: 'get', path: '/admin/sessions', session: true, chain: [...admin, sessions.page] },
    // Ending sessions and lifting bans are protective: no re-authentication.
    { method: 'post', path: '/admin/sessions/:handle/revoke', session: true, chain: [...admin, ...form, sessions.revoke] },
    { method: 'get', path: '/admin/audit', session: true, chain: [...admin, audit.page] },
    { method: 'get', path: '/admin/audit.csv', session: true, chain: [...admin, audit.csv] },
    { method: 'get', path: '/admin/bans', session: true, chain: [...admin, bans.page] },
    { method: 'post', path: '/admin/bans/lift', session: true, chain: [...admin, ...form, bans.lift] },

    // ---- JSON API /api/v1 (src/api) ----------------------------------------------------
    // Chains (src/api/auth.ts): who (token or cookie), password current, CSRF for cookie
    // changes, token scope or admin group, JSON body. `session`: cookie only, never a token.
    // Every path here is described in src/api/openapi.ts (a test keeps the two equal).
    { method: 'get', path: '/api/v1/openapi.json', session: false, chain: [openApiRoute(ctx)] },
    { method: 'get', path: '/api/v1/csrf', session: true, chain: [...api.sessionOnly, apiMe.csrf] },
    { method: 'get', path: '/api/v1/me', session: true, chain: [...api.read, apiMe.show] },
    { method: 'put', path: '/api/v1/me/password', session: true, chain: [g.requireSafeTransport, ...api.sessionOnly, g.requireSecondFactorPassed, apiMe.changePassword] },
    { method: 'post', path: '/api/v1/me/reauth', session: true, chain: [g.requireSafeTransport, ...api.sessionOnly, apiMe.reauth] },
    { method: 'get', path: '/api/v1/me/sessions', session: true, chain: [...api.read, apiMe.sessions] },
    { method: 'post', path: '/api/v1/me/sessions/revoke-others', session: true, chain: [...api.write, apiMe.revokeOthers] },
    { method: 'delete', path: '/api/v1/me/sessions/:handle', session: true, chain: [...api.write, apiMe.revokeSession] },
    { method: 'get', path: '/api/v1/me/data', session: true, chain: [...api.read, apiMe.data] },
    { method: 'get', path: '/api/v1/me/tokens', session: true, chain: [...api.read, apiMe.tokens] },
    { method: 'post', path: '/api/v1/me/tokens', session: true, chain: [...api.sessionOnly, api.recentAuth, apiMe.createToken] },
    { method: 'delete', path: '/api/v1/me/tokens/:id', session: true, chain: [...api.write, apiMe.revokeToken] },
    { method: 'post', path: '/api/v1/me/deletion-request', session: true, chain: [...api.sessionOnly, apiMe.requestDeletion] },
    { method: 'delete', path: '/api/v1/me/deletion-request', session: true, chain: [...api.write, apiMe.cancelDeletion] },
    { method: 'get', path: '/api/v1/users', session: true, chain: [...api.admin, apiUsers.list] },
    { method: 'post', path: '/api/v1/users', session: true, chain: [...api.admin, api.recentAuth, apiUsers.create] },
    { method: 'get', path: '/api/v1/users/:username', session: true, chain: [...api.admin, apiUsers.show] },
    { method: 'patch', path: '/api/v1/users/:username', session: true, chain: [...api.admin, api.recentAuth, apiUsers.update] },
    { method: 'delete', path: '/api/v1/users/:username', session: true, chain: [...api.admin, api.recentAuth, apiUsers.remove] },
    { method: 'put', path: '/api/v1/users/:username/password', session: true, chain: [...api.admin, api.recentAuth, apiUsers.resetPassword] },
    { method: 'post', path: '/api/v1/users/:username/disable', session: true, chain: [...api.admin, api.recentAuth, apiUsers.disable] },
    { method: 'post', path: '/api/v1/users/:username/enable', session: true, chain: [...api.admin, api.recentAuth, apiUsers.enable] },
    { method: 'post', path: '/api/v1/users/:username/reset-two-factor', session: true, chain: [...api.admin, api.recentAuth, apiUsers.resetTwoFactor] },
    // Declining keeps the account as it is: protective, no re-authentication, as on the page.
    { method: 'delete', path: '/api/v1/users/:username/deletion-request', session: true, chain: [...api.admin, apiUsers.declineDeletion] },
    // Ending sessions and lifting bans are protective: no re-authentication, as on the pages.
    { method: 'get', path: '/api/v1/sessions', session: true, chain: [...api.admin, apiSessions.list] },
    { method: 'delete', path: '/api/v1/sessions/:handle', session: true, chain: [...api.admin, apiSessions.revoke] },
    { method: 'get', path: '/api/v1/audit', session: true, chain: [...api.admin, apiAudit.list] },
    { method: 'get', path: '/api/v1/bans', session: true, chain: [...api.admin, apiBans.list] },
    { method: 'delete', path: '/api/v1/bans/:target', session: true, chain: [...api.admin, apiBans.lift] },
  ];
}
