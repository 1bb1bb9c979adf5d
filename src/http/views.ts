// Server-side rendering with nunjucks: autoescaping on, templates from views/.

import nunjucks from 'nunjucks';
import type { Response } from 'express';
import { viewsDir } from '../lib/paths.js';

export function createViews(): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addFilter('datetime', (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : ''));
  return env;
}

/** Renders a page; every page is personal or carries a CSRF token, so none is cached. */
export function renderPage(res: Response, view: string, locals: Record<string, unknown> = {}, status = 200): void {
  res.status(status).set('Cache-Control', 'no-store').render(view, locals);
}
