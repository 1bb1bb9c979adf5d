-- Bounded upkeep (issues 11 and 24): an index for every statement of the batched sweeps, so
-- each batch reads only the rows it changes, and coalesced audit entries (repeated refusals
-- from one address within a window are one row with a count).

-- Sessions: expiry by the absolute limit has its own index (an OR over the idle and the
-- absolute expiry could use neither); pre-login (anonymous) rows, live and ended, too.
CREATE INDEX sessions_live_by_absolute_expiry ON sessions (absolute_expires_at) WHERE deleted_at IS NULL;
CREATE INDEX sessions_anonymous_live ON sessions (idle_expires_at) WHERE user_id IS NULL AND deleted_at IS NULL;
CREATE INDEX sessions_anonymous_ended ON sessions (deleted_at) WHERE user_id IS NULL AND delete_reason IN ('regenerated', 'expired', 'cleared');

-- Throttle counters are forgotten once quiet, known addresses after their retention.
CREATE INDEX throttle_by_last_failure ON throttle_counters (last_failure_at);
CREATE INDEX throttle_known_by_last_success ON throttle_known_ips (last_success_at);

-- Audit: `count` events folded into this row, the last of them at `last_at` (NULL: one).
ALTER TABLE audit_log ADD COLUMN count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1);
ALTER TABLE audit_log ADD COLUMN last_at INTEGER;
