// Reading the audit log in tests: the newest entries, through the same AuditLog the admin
// pages and the CLI read with.

import type { AppContext } from '../../src/context.js';
import type { AuditEntry } from '../../src/audit/query.js';

/** Newest first, at most `limit` (capped at AUDIT_PAGE_MAX), of one event when named. */
export function recentAudit(ctx: Pick<AppContext, 'auditLog'>, limit = 100, event?: string): AuditEntry[] {
  return ctx.auditLog.page(event === undefined ? {} : { event }, { limit }).entries;
}
