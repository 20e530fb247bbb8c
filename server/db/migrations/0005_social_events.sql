-- Events around the rooms (issue 9): who said they are coming, a private calendar feed per member, a room's peak
-- audience and edit revision, full-text search of titles and descriptions, and the event reminders sent.
ALTER TABLE rooms ADD COLUMN peak_listeners INTEGER NOT NULL DEFAULT 0;  -- most people in the room at once
ALTER TABLE rooms ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;        -- bumped by each edit (.ics SEQUENCE)
ALTER TABLE rooms ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;       -- a scheduled room its host cancelled

-- RSVP: "Remind me" (going = 1) or "Not going" (going = 0); no row: no answer.
CREATE TABLE room_rsvps (
  room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  going      INTEGER NOT NULL CHECK (going IN (0, 1)),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX room_rsvps_user ON room_rsvps(user_id, going);

-- A member's private calendar feed: /calendar/<secret>.ics (regenerating replaces the secret).
CREATE TABLE room_calendars (
  user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret     TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

-- Search of rooms by title and description (external content, kept by triggers).
CREATE VIRTUAL TABLE room_fts USING fts5(title, description, content = 'rooms', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER rooms_fts_ai AFTER INSERT ON rooms BEGIN
  INSERT INTO room_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER rooms_fts_ad AFTER DELETE ON rooms BEGIN
  INSERT INTO room_fts(room_fts, rowid, title, description) VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER rooms_fts_au AFTER UPDATE OF title, description ON rooms BEGIN
  INSERT INTO room_fts(room_fts, rowid, title, description) VALUES ('delete', old.id, old.title, old.description);
  INSERT INTO room_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
END;
INSERT INTO room_fts(room_fts) VALUES ('rebuild');

-- Event reminders sent (push's): once per room, lead ('soon': 10 minutes before, 'start') and start time, so a
-- restart never sends one twice and a new start time reminds again.
CREATE TABLE push_event_reminders (
  room_id   INTEGER NOT NULL,
  lead      TEXT NOT NULL CHECK (lead IN ('soon', 'start')),
  starts_at INTEGER NOT NULL,
  sent_at   INTEGER NOT NULL,
  PRIMARY KEY (room_id, lead, starts_at)
) WITHOUT ROWID;
