-- Second factors (src/twofactor): a TOTP authenticator per user (its secret encrypted),
-- single-use recovery codes (keyed hashes), and the per-user counter of failed
-- second-factor attempts. The keys live in the data dir's secrets.json, never here: a
-- copy of this file alone yields no usable second factor. users.totp_secret (0001) stays
-- unused. Times are milliseconds since the epoch (UTC).

CREATE TABLE totp_authenticators (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret_ciphertext BLOB NOT NULL,                              -- AES-256-GCM of the raw secret, user id as AAD
  secret_iv BLOB NOT NULL CHECK (length(secret_iv) = 12),       -- random 96-bit nonce, new for every secret
  secret_tag BLOB NOT NULL CHECK (length(secret_tag) = 16),     -- GCM authentication tag
  created_at INTEGER NOT NULL,
  confirmed_at INTEGER,                                         -- NULL while pending: it does not count until a code confirms it
  last_used_step INTEGER,                                       -- last accepted 30 s step; this one and older are refused (replay)
  CHECK (confirmed_at IS NOT NULL OR last_used_step IS NULL)
) STRICT;

CREATE TABLE recovery_codes (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL CHECK (length(code_hash) = 64),      -- HMAC-SHA-256 hex of user id + normalized code
  used_at INTEGER,                                              -- single use: set once, never cleared
  created_at INTEGER NOT NULL,
  UNIQUE (user_id, code_hash)
) STRICT;

-- Failed second-factor attempts per user. Separate from throttle_counters on purpose: a
-- correct password clears those and makes the address "known" (exempt from the username
-- lock), and whoever is asked for a second factor has just typed a correct password.
CREATE TABLE second_factor_failures (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),   -- since the counter was last quiet for a window
  last_failure_at INTEGER,
  locked_until INTEGER,                                         -- refused, even with a correct code, while in the future
  lock_count INTEGER NOT NULL DEFAULT 0 CHECK (lock_count >= 0) -- locks so far; each one doubles the next
) STRICT;
