-- Live rooms outlive a restart: a graceful stop saves each live room's seats (member, role, mute, raised hand,
-- pending invitation, since when) and its pinned item; the next start reads them back (and deletes the row) and
-- keeps the seats for the participants to come back to. A room without a saved row (a crash) is rebuilt from its
-- open participation stretches.
CREATE TABLE room_resume (
  room_id  INTEGER PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
  state    TEXT NOT NULL,  -- JSON: {pinned, handSeq, seats: [{userId, role, muted, hand, invited, since}]}
  saved_at INTEGER NOT NULL
);
