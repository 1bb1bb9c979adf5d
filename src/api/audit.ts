// /api/v1/audit: the audit log for administrators, filtered and keyset-paged (newest first).

import type { RequestHandler } from 'express';
import type { AuditFilter } from '../audit/query.js';
import type { AppContext } from '../context.js';
import { badRequest } from '../lib/errors.js';
import { normalizeUsername } from '../users/username.js';
import { AuditQuery, auditEntryJson } from './schemas.js';
import { query } from './validate.js';

const DEFAULT_LIMIT = 50;

export function auditApi(ctx: AppContext) {
  const list: RequestHandler = (req, res) => {
    const q = query(AuditQuery, req);
    const filter: AuditFilter = {};
    if (q.event !== undefined) filter.event = q.event;
    if (q.ip !== undefined) filter.ip = q.ip;
    if (q.from !== undefined) filter.from = Date.parse(q.from);
    if (q.to !== undefined) filter.to = Date.parse(q.to);
    if (q.user !== undefined) {
      const name = normalizeUsername(q.user);
      if (!name.ok) throw badRequest('invalid-query', `The request query is not valid. user: ${name.message}`);
      // While the account exists its entries are found by id (also those written before a
      // rename); a deleted account's entries have lost the name, failed sign-ins keep it.
      const user = ctx.users.findByUsername(name.username);
      if (user) filter.userId = user.id;
      else filter.username = name.username;
    }
    const page = ctx.auditLog.page(filter, { limit: q.limit ?? DEFAULT_LIMIT, ...(q.before !== undefined ? { before: q.before } : {}) });
    res.json({ entries: page.entries.map(auditEntryJson), next: page.next });
  };

  return { list };
}
