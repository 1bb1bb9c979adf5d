// The "remember this device" cookie: separate from the session cookie, HttpOnly,
// SameSite=Lax, Path=/, Secure with the `__Host-` prefix over HTTPS (bare name on plain
// HTTP, like the session cookie), Max-Age = two_factor.remember_device.
//
// Its value is a random 256-bit token; the server keeps only its SHA-256
// (src/twofactor/remembered-devices.ts) and looks it up. No signature is needed on top:
// nobody can guess a live token, a forged or altered value simply matches no row, and the
// server-side row is what makes it listable and revocable. (Signing would add nothing an
// attacker lacks, and a leaked cookie secret would then not forge tokens either way.)

import type { Request, Response } from 'express';
import { parse } from 'cookie';
import type { AppContext } from '../context.js';
import { clientIp } from '../theft/client-ip.js';
import type { RememberedDevices } from '../twofactor/remembered-devices.js';

const BASE_NAME = 'gatehouse_device';
const MAX_HEADER = 8192;

export const deviceCookieName = (secure: boolean): string => (secure ? `__Host-${BASE_NAME}` : BASE_NAME);

/** The token in this request's device cookie, or null (absent, unreadable). */
export function readDeviceToken(req: Request): string | null {
  const header = req.headers.cookie;
  if (!header || header.length > MAX_HEADER) return null;
  try {
    const value = parse(header)[deviceCookieName(req.secure)];
    return typeof value === 'string' && value.length > 0 ? value : null;
  } catch {
    return null;
  }
}

/** Remembered devices are on when the configured duration is above 0. */
export const rememberDeviceMs = (ctx: AppContext): number => ctx.config.two_factor.remember_device;

/** The context's remembered devices. */
export function rememberedDevices(ctx: AppContext): RememberedDevices {
  return ctx.twoFactor.devices;
}

/** Whether this browser's device cookie lets `userId` skip the second step. */
export function deviceIsRemembered(ctx: AppContext, req: Request, userId: number): boolean {
  if (rememberDeviceMs(ctx) <= 0) return false;
  const token = readDeviceToken(req);
  return token !== null && rememberedDevices(ctx).check(userId, token);
}

/** Remembers this browser for `userId` and sets the cookie (the token goes nowhere else). */
export function rememberThisDevice(ctx: AppContext, req: Request, res: Response, userId: number): void {
  const ms = rememberDeviceMs(ctx);
  if (ms <= 0) return;
  const { token } = rememberedDevices(ctx).create(userId, ms, { userAgent: req.get('user-agent') ?? null, ip: clientIp(req) });
  res.cookie(deviceCookieName(req.secure), token, { httpOnly: true, secure: req.secure, sameSite: 'lax', path: '/', maxAge: ms });
}
