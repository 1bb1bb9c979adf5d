// HTTP adapters for the bans page: active login bans and locks (src/throttle/regulator.ts)
// and lifting them for an address or a username.

import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { addFlash } from '../http/flash.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { firstProblem, formText } from '../http/form-fields.js';
import { actor, frame } from './shared.js';

const liftForm = z.object({ target: formText('The address or username', 256) });

export function adminBanRoutes(ctx: AppContext, guards: Guards) {
  function render(req: Request, res: Response, status: number, locals: Record<string, unknown> = {}): void {
    const bans = ctx.regulator.listBans().map((b) => ({ ...b, target: b.ip ?? b.username }));
    renderPage(res, 'admin-bans.njk', { ...frame(req, guards, 'bans', 'Bans'), bans, ...locals }, status);
  }

  const page: RequestHandler = (req, res) => render(req, res, 200);

  const lift: RequestHandler = (req, res) => {
    const parsed = liftForm.safeParse(req.body ?? {});
    if (!parsed.success) return render(req, res, 400, { error: firstProblem(parsed.error) });
    const target = parsed.data.target.trim();
    let result: ReturnType<typeof ctx.regulator.lift>;
    try {
      result = ctx.regulator.lift(target, actor(req));
    } catch (err) {
      // Neither an IP address nor a possible username: say so next to the form.
      if (err instanceof RangeError) return render(req, res, 400, { error: `${err.message}.`, target });
      throw err;
    }
    const label = result.target.kind === 'ip' ? result.target.key : result.target.username;
    addFlash(
      req,
      result.lifted.length
        ? `Lifted ${result.lifted.length} ban(s) for ${label}; its failure counters start again from zero.`
        : `There was no active ban for ${label}; its failure counters were cleared.`,
    );
    res.redirect(303, '/admin/bans');
  };

  return { page, lift };
}
