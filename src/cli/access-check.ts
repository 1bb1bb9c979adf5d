// `gatehouse access check <url>`: which rule matches a request, and the answer it gets.

import { isIP } from 'node:net';
import type { AppContext } from '../context.js';
import { readOriginalUrl } from '../access/original-request.js';
import { normalizeIp } from '../theft/client-ip.js';
import { CliError } from './io.js';

const ANSWERS = {
  allow: '200 allowed',
  login: 'not signed in: 401 (/auth/verify) or a redirect to the login page (/auth/forward)',
  deny: '403 forbidden',
} as const;

export function explainAccess(ctx: AppContext, rawUrl: string, opts: { user?: string; ip?: string; method: string }): string[] {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new CliError(`not an absolute URL: ${rawUrl} (e.g. https://app.home.example/path)`, 2);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError('the URL must start with http:// or https://', 2);
  const method = opts.method.toUpperCase();
  if (!/^[A-Z]{1,16}$/.test(method)) throw new CliError(`not an HTTP method: ${opts.method}`, 2);
  const ip = opts.ip === undefined ? '' : normalizeIp(opts.ip);
  if (opts.ip !== undefined && isIP(ip) === 0) throw new CliError(`not an IP address: ${opts.ip}`, 2);
  const user = opts.user === undefined ? null : ctx.accounts.require(opts.user);
  const who = user ? `${user.username} (groups: ${user.groups.join(', ') || 'none'})${user.disabled ? ' [disabled: every request is treated as signed out]' : ''}` : 'nobody signed in';
  const from = `from:     ${ip || '(no client IP: rules with networks do not match)'}`;
  // Read as the endpoints read X-Original-URL: the URL's UTF-8 bytes, one character per byte
  // (as Node hands over a header), so the path is the one the rules would see, or refused.
  const original = readOriginalUrl(Buffer.from(rawUrl, 'utf8').toString('latin1'), method);
  if (!original.ok) {
    return [
      `request:  ${method} ${rawUrl.replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}`,
      from,
      `as:       ${who}`,
      'rule:     none: refused before any rule is checked',
      'policy:   -',
      `answer:   400 bad request (/auth/verify and /auth/forward): ${original.message}`,
    ];
  }
  const { host, path } = original.request;
  const decision = ctx.access.decide({ host, path, method, ip }, user);
  const rule = decision.rule === null ? null : ctx.config.access_control.rules[decision.rule];
  return [
    `request:  ${method} ${url.href}`,
    `path:     ${path} (what resources match, ignoring case)`,
    from,
    `as:       ${who}`,
    rule
      ? `rule:     #${decision.rule} ${JSON.stringify(rule)}`
      : decision.reason === 'subject-mismatch'
        ? 'rule:     none for this user (a rule with subjects claims this request)'
        : `rule:     none matched: default_policy ${ctx.config.access_control.default_policy}`,
    `policy:   ${decision.policy}`,
    `answer:   ${user && decision.reason === 'second-factor-required' ? secondStep(ctx, user.id) : ANSWERS[user?.disabled && decision.outcome === 'allow' && decision.policy !== 'bypass' ? 'login' : decision.outcome]}`,
  ];
}

/** A two_factor rule and a password-only session: what the user meets depends on their factors. */
function secondStep(ctx: AppContext, userId: number): string {
  return ctx.twoFactor.isEnabled(userId)
    ? 'after a password alone: the second sign-in step (401 / redirect to the portal); after the second step: 200 allowed'
    : '403 forbidden: this user has no second factor to complete the step (set one up under My account)';
}
