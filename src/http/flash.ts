// One-time messages shown on the next page (after a form's redirect): "Session revoked",
// "Password changed", security notices. Kept in the session, shown once.

import type { Request } from 'express';
import type { FlashKind, FlashMessage } from '../sessions/types.js';

const MAX_MESSAGES = 10;

export function addFlash(req: Request, text: string, kind: FlashKind = 'notice'): void {
  if (!req.session) return;
  req.session.flash = [...(req.session.flash ?? []), { kind, text }].slice(-MAX_MESSAGES);
}

/** The pending messages, removed from the session. */
export function takeFlash(req: Request): FlashMessage[] {
  const messages = req.session?.flash ?? [];
  if (messages.length) delete req.session.flash;
  return messages;
}
