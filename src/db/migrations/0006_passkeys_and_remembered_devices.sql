-- Passkeys (WebAuthn credentials) as a second factor or for passwordless sign-in, and
-- "remember this device" tokens that skip the second step on one browser. Times are
-- milliseconds since the epoch (UTC). Both go with their user.

CREATE TABLE webauthn_credentials (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  credential_id TEXT NOT NULL UNIQUE,                 -- base64url, as the authenticator names it
  public_key BLOB NOT NULL,                           -- COSE public key
  counter INTEGER NOT NULL DEFAULT 0 CHECK (counter >= 0),
  transports TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(transports) AND json_type(transports) = 'array'),
  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  device_type TEXT,                                   -- singleDevice | multiDevice
  backed_up INTEGER NOT NULL DEFAULT 0 CHECK (backed_up IN (0, 1)),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
) STRICT;

CREATE INDEX webauthn_by_user ON webauthn_credentials (user_id);

CREATE TABLE remembered_devices (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),  -- SHA-256 hex of the cookie's token
  user_agent TEXT,
  ip TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER,
  revoke_reason TEXT,
  CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
) STRICT;

CREATE INDEX remembered_by_user ON remembered_devices (user_id);
