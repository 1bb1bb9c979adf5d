// Background upkeep of the audit log: entries older than `audit.retention` are deleted, in
// batches that yield to the event loop (src/db/batches.ts), so the table stays bounded.

import { periodic } from '../lib/periodic.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { AuditLog } from './query.js';

/** Purges once now and then every `intervalMs`; returns a function that stops it. */
export function startAuditSweeper(deps: { auditLog: AuditLog; clock: Clock }, retentionMs: number, intervalMs: number, log: Logger): () => void {
  return periodic(
    'audit retention purge',
    intervalMs,
    async (signal) => {
      const purged = await deps.auditLog.purgeBefore(deps.clock.now() - retentionMs, { signal });
      if (purged) log.info({ purged }, 'audit entries past their retention deleted');
    },
    log,
  );
}
