-- Events around the rooms (issue 9): ../0005_social_events.sql in Postgres (docs/ARCHITECTURE.md, "Stores"). Who
-- said they are coming, a private calendar feed per member, a room's peak audience and edit revision, full-text
-- search of titles and descriptions, and the event reminders sent.
--
-- Search. SQLite's room_fts (FTS5 over title and description, external content, kept by three triggers) is, here, a
-- generated column `rooms.search` (a tsvector of title and description, the 'simple' configuration, as
-- bc_messages.search in 0003) with a GIN index, so no trigger and no rebuild (adding the column computes it for every
-- room). The store's search (SQLite: `room_fts MATCH '"word1" "word2"*' AND cancelled = 0 ORDER BY rank`) becomes,
-- with the same cleaned words joined as $q = 'word1 & word2:*':
--   SELECT rooms.* FROM rooms, to_tsquery('simple', $q) query
--   WHERE rooms.search @@ query AND rooms.cancelled = 0
--   ORDER BY ts_rank(rooms.search, query) DESC, rooms.id DESC LIMIT $limit
ALTER TABLE rooms ADD COLUMN peak_listeners INTEGER NOT NULL DEFAULT 0;  -- most people in the room at once
ALTER TABLE rooms ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;        -- bumped by each edit (.ics SEQUENCE)
ALTER TABLE rooms ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;       -- a scheduled room its host cancelled
ALTER TABLE rooms ADD COLUMN search tsvector GENERATED ALWAYS AS
  (to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(description, ''))) STORED;  -- Postgres's only
CREATE INDEX rooms_search ON rooms USING GIN (search);

-- RSVP: "Remind me" (going = 1) or "Not going" (going = 0); no row: no answer.
CREATE TABLE room_rsvps (
  room_id    BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  going      INTEGER NOT NULL CHECK (going IN (0, 1)),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_rsvps_user ON room_rsvps(user_id, going);

-- A member's private calendar feed: /calendar/<secret>.ics (regenerating replaces the secret).
CREATE TABLE room_calendars (
  user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret     TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);

-- Event reminders sent (push's): once per room, lead ('soon': 10 minutes before, 'start') and start time, so a
-- restart never sends one twice and a new start time reminds again.
CREATE TABLE push_event_reminders (
  room_id   BIGINT NOT NULL,
  lead      TEXT NOT NULL CHECK (lead IN ('soon', 'start')),
  starts_at BIGINT NOT NULL,
  sent_at   BIGINT NOT NULL,
  PRIMARY KEY (room_id, lead, starts_at)
);
