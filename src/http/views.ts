// Server-side rendering with nunjucks: autoescaping on, templates from views/.

import nunjucks from 'nunjucks';
import type { Response } from 'express';
import { viewsDir } from '../lib/paths.js';

export function createViews(): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(viewsDir, { noCache: false }), {
    autoescape: true,
    throwOnUndefined: false,
  });
  env.addFilter('datetime', (ms: unknown) => (typeof ms === 'number' ? formatTime(ms) : ''));
  return env;
}

/** Times on pages and in notices: minutes, UTC (the appliance has no idea of the viewer's zone). */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

/** Renders a page; every page is personal or carries a CSRF token, so none is cached. */
export function renderPage(res: Response, view: string, locals: Record<string, unknown> = {}, status = 200): void {
  res.status(status).set('Cache-Control', 'no-store').render(view, locals);
}
