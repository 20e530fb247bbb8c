-- Admin, push, audit and reports.

-- Web Push: one row per device (browser) subscription.
CREATE TABLE push_subscriptions (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  endpoint     TEXT NOT NULL UNIQUE,
  p256dh       TEXT NOT NULL,              -- base64url P-256 public key of the browser
  auth         TEXT NOT NULL,              -- base64url 16-byte auth secret
  user_agent   TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);

-- A member's choice per kind of notification; a missing row means "on".
CREATE TABLE push_prefs (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind    TEXT NOT NULL CHECK (kind IN ('dm', 'room_started', 'room_reminder', 'speak_invite')),
  enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  PRIMARY KEY (user_id, kind)
) WITHOUT ROWID;

-- Scheduled rooms whose 10-minute reminder went out (once per room).
CREATE TABLE push_reminders (
  room_id INTEGER PRIMARY KEY,
  sent_at INTEGER NOT NULL
);

-- Every admin and moderator action.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  actor_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
  action      TEXT NOT NULL,
  target_type TEXT,
  target_id   TEXT,
  details     TEXT NOT NULL DEFAULT '{}',  -- JSON
  created_at  INTEGER NOT NULL
);
CREATE INDEX audit_log_created ON audit_log(created_at);

-- Members report a member, a room or a message; admins work the queue.
CREATE TABLE reports (
  id          INTEGER PRIMARY KEY,
  reporter_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  target_type TEXT NOT NULL CHECK (target_type IN ('member', 'room', 'message')),
  target_id   INTEGER NOT NULL,
  reason      TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'dismissed')),
  created_at  INTEGER NOT NULL,
  handled_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
  handled_at  INTEGER,
  note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reports_status ON reports(status, created_at);
CREATE UNIQUE INDEX reports_once ON reports(reporter_id, target_type, target_id) WHERE status = 'open';

-- One-time password-reset links made by an admin.
CREATE TABLE password_resets (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash BLOB NOT NULL UNIQUE,
  created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER
);
CREATE INDEX password_resets_user ON password_resets(user_id);
