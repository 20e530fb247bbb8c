-- Live rooms outlive a restart: ../0007_ops_data.sql in Postgres (docs/ARCHITECTURE.md, "Stores"). A graceful stop
-- saves each live room's seats (member, role, mute, raised hand, pending invitation, since when) and its pinned item;
-- the next start reads them back (and deletes the row). A room without a saved row (a crash) is rebuilt from its open
-- participation stretches.
CREATE TABLE room_resume (
  room_id  BIGINT PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
  state    TEXT NOT NULL,  -- JSON: {pinned, handSeq, seats: [{userId, role, muted, hand, invited, since}]}
  saved_at BIGINT NOT NULL
);
