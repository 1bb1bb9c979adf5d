-- Login throttling (src/throttle): failure counters and bans, the addresses that have
-- signed each user in before, and the hit counters of the global rate limit. Everything
-- here survives a restart. Times are milliseconds since the epoch (UTC).

-- One row per counter. scope 'ip' is keyed by the client address (IPv4, or the IPv6 /64
-- as "2001:db8::/64") with username ''; 'user' by the normalized username with ip '';
-- 'pair' by both. '' rather than NULL: NULLs are distinct in a primary key.
CREATE TABLE throttle_counters (
  scope TEXT NOT NULL CHECK (scope IN ('ip', 'user', 'pair')),
  ip TEXT NOT NULL,
  username TEXT NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),   -- since the counter was last quiet for a window
  last_failure_at INTEGER,
  banned_until INTEGER,                                         -- a ban or lock is active while this is in the future
  ban_count INTEGER NOT NULL DEFAULT 0 CHECK (ban_count >= 0),  -- bans so far; each one doubles the next
  ban_cause TEXT CHECK (ban_cause IS NULL OR ban_cause IN ('failures', 'spraying')),
  PRIMARY KEY (scope, ip, username),
  CHECK ((scope = 'user') = (ip = '')),
  CHECK ((scope = 'ip') = (username = ''))
) STRICT;

CREATE INDEX throttle_by_username ON throttle_counters (username, scope) WHERE username <> '';
CREATE INDEX throttle_bans ON throttle_counters (banned_until) WHERE banned_until IS NOT NULL;

-- Addresses (same keys as above) from which a user has signed in successfully: they keep
-- their own allowance while the username is locked for everyone else.
CREATE TABLE throttle_known_ips (
  username TEXT NOT NULL,
  ip TEXT NOT NULL,
  first_success_at INTEGER NOT NULL,
  last_success_at INTEGER NOT NULL,
  PRIMARY KEY (username, ip)
) STRICT;

-- A deleted user's addresses must not vouch for a new account that reuses the name.
CREATE TRIGGER throttle_known_ips_forget_deleted_user AFTER DELETE ON users
BEGIN
  DELETE FROM throttle_known_ips WHERE username = old.username;
END;

-- express-rate-limit's hit counters (src/throttle/rate-limit-store.ts): a fixed window per key.
CREATE TABLE rate_limit_hits (
  key TEXT PRIMARY KEY,
  hits INTEGER NOT NULL CHECK (hits >= 0),
  reset_at INTEGER NOT NULL
) STRICT;

CREATE INDEX rate_limit_by_reset ON rate_limit_hits (reset_at);
