-- Session succession and the forward-auth cookie (issue 11).
--
-- session_epochs: a per-user counter that every "end all of this user's sessions" moves on
-- (password change, sign out everywhere else, disabled, revoke all). A session records the
-- epoch it was issued under; a new session ID is only issued for a user whose epoch is still
-- the one the request's authentication was checked against, so a sign-in or ID renewal that
-- was in flight while the user's sessions ended cannot mint a live successor. No row = 0.
--
-- sessions.forward_hash: SHA-256 of the session's forward-auth cookie (derived from the ID
-- with a key, shared with the cookie domain). That cookie is good for forward auth alone;
-- gatehouse's own pages and API take only the host-only portal cookie (the ID itself).

CREATE TABLE session_epochs (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  epoch INTEGER NOT NULL CHECK (epoch >= 0)
) STRICT;

ALTER TABLE sessions ADD COLUMN auth_epoch INTEGER;
ALTER TABLE sessions ADD COLUMN forward_hash TEXT CHECK (forward_hash IS NULL OR length(forward_hash) = 64);

-- Sessions signed in before this migration belong to epoch 0 (they can renew their ID); they
-- have no forward-auth cookie yet, so proxied services ask them to sign in once more.
UPDATE sessions SET auth_epoch = 0 WHERE user_id IS NOT NULL;

CREATE UNIQUE INDEX sessions_by_forward_hash ON sessions (forward_hash) WHERE forward_hash IS NOT NULL;
