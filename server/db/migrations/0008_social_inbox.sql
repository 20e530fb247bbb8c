-- The activity inbox (issue 9): one row per thing that happened to a member. `dedupe` keeps one item per cause
-- (a follower following again, a second message of the same request).
CREATE TABLE activity (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind       TEXT NOT NULL,
  actor_id   INTEGER REFERENCES users(id) ON DELETE CASCADE,
  text       TEXT NOT NULL,
  detail     TEXT NOT NULL DEFAULT '',
  url        TEXT NOT NULL,
  dedupe     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  read_at    INTEGER
);
CREATE UNIQUE INDEX activity_dedupe ON activity(user_id, dedupe);
CREATE INDEX activity_user ON activity(user_id, id);
CREATE INDEX activity_unread ON activity(user_id) WHERE read_at IS NULL;

-- Push settings gain a kind: 'activity' (followers, mentions, requests, invitations to closed rooms, reports).
CREATE TABLE push_prefs_new (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind    TEXT NOT NULL CHECK (kind IN ('dm', 'room_started', 'room_reminder', 'speak_invite', 'activity')),
  enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  PRIMARY KEY (user_id, kind)
) WITHOUT ROWID;
INSERT INTO push_prefs_new SELECT user_id, kind, enabled FROM push_prefs;
DROP TABLE push_prefs;
ALTER TABLE push_prefs_new RENAME TO push_prefs;
