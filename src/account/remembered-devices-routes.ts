// /account: forgetting a remembered device ("remember this device" at the second step).
// The list itself is part of the account page (src/account/page.ts, views/account.njk).

import type { RequestHandler } from 'express';
import { z } from 'zod';
import { rememberedDevices } from '../auth/remember-device-cookie.js';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import { AppError } from '../lib/errors.js';
import { clientIp } from '../theft/client-ip.js';

const idParam = z.string().regex(/^[1-9][0-9]{0,15}$/).transform(Number);

export function rememberedDeviceRoutes(ctx: AppContext) {
  const revoke: RequestHandler = (req, res) => {
    const user = req.user as Express.User;
    const id = idParam.safeParse(req.params.id);
    if (!id.success || !rememberedDevices(ctx).revoke(user.id, id.data)) throw new AppError('device-not-found', 404, 'There is no such remembered device.');
    ctx.log.info({ event: 'remembered-device-revoked', user: user.username, ip: clientIp(req), device: id.data }, 'remembered device forgotten');
    addFlash(req, 'That device is forgotten: it will be asked for the second step again.');
    res.redirect(303, '/account#devices');
  };
  return { revoke };
}
