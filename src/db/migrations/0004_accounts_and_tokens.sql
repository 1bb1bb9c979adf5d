-- Self-service accounts and the JSON API: personal API tokens (stored hashed), and a
-- user's request to have their account deleted (an administrator confirms it).
-- Times are milliseconds since the epoch (UTC).

ALTER TABLE users ADD COLUMN deletion_requested_at INTEGER;

CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),  -- SHA-256 hex of the whole token
  hint TEXT NOT NULL,                                                -- first characters, to recognise it
  scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_used_at INTEGER,
  last_used_ip TEXT,
  revoked_at INTEGER,
  revoked_by TEXT
) STRICT;

CREATE INDEX api_tokens_by_user ON api_tokens (user_id, created_at);
