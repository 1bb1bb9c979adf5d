-- migrate: foreign_keys=off
-- User ids are never reused (AUTOINCREMENT): audit entries that outlive a deleted user
-- must not be attributed to the next one. SQLite cannot add AUTOINCREMENT in place, so
-- the table is rebuilt (foreign keys off while the old table is dropped, checked after).

CREATE TABLE users_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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

INSERT INTO users_new (id, username, display_name, email, password_hash, groups, totp_secret, disabled, locked,
                       must_change_password, created_at, updated_at, password_changed_at, last_login_at)
SELECT id, username, display_name, email, password_hash, groups, totp_secret, disabled, locked,
       must_change_password, created_at, updated_at, password_changed_at, last_login_at
FROM users;

DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
