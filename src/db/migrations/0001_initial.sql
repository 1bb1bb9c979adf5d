-- Users, sessions (hashed IDs, soft delete), first-run setup tokens and the audit log.
-- All times are milliseconds since the epoch (UTC).

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,              -- normalized: NFKC + lower case, [a-z0-9._-]
  display_name TEXT NOT NULL,
  email TEXT,
  password_hash TEXT NOT NULL,                -- argon2id PHC string
  groups TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(groups) AND json_type(groups) = 'array'),
  totp_secret TEXT,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  locked INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
  must_change_password INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL,
  last_login_at INTEGER
) STRICT;

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY CHECK (length(id_hash) = 64),  -- SHA-256 hex of the session ID
  user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  data TEXT NOT NULL CHECK (json_valid(data)),
  bound_ip TEXT,
  user_agent TEXT,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  idle_timeout_ms INTEGER NOT NULL,
  idle_expires_at INTEGER NOT NULL,
  absolute_expires_at INTEGER NOT NULL,
  deleted_at INTEGER,
  delete_reason TEXT,
  delete_detail TEXT CHECK (delete_detail IS NULL OR json_valid(delete_detail)),
  CHECK ((deleted_at IS NULL) = (delete_reason IS NULL))
) STRICT;

CREATE INDEX sessions_by_user ON sessions (user_id, created_at) WHERE user_id IS NOT NULL;
CREATE INDEX sessions_live_by_expiry ON sessions (idle_expires_at) WHERE deleted_at IS NULL;
CREATE INDEX sessions_deleted_by_time ON sessions (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE setup_tokens (
  token_hash TEXT PRIMARY KEY CHECK (length(token_hash) = 64),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
) STRICT;

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  user_id INTEGER,                            -- no foreign key: entries outlive the user
  username TEXT,
  ip TEXT,
  details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
) STRICT;

CREATE INDEX audit_by_time ON audit_log (at);
CREATE INDEX audit_by_user ON audit_log (user_id, at);
CREATE INDEX audit_by_event ON audit_log (event, at);
