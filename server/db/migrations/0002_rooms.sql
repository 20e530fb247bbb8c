-- Live audio rooms: the room itself (scheduled, live, ended), who was invited or co-hosts it, who was removed,
-- and who was in it with which role and when (kept after the room ends).
CREATE TABLE rooms (
  id          INTEGER PRIMARY KEY,
  creator_id  INTEGER NOT NULL REFERENCES users(id),
  host_id     INTEGER NOT NULL REFERENCES users(id),  -- the current (or last) host; changes on succession
  title       TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  link        TEXT,                                     -- optional pinned http(s) link
  kind        TEXT NOT NULL CHECK (kind IN ('open', 'social', 'closed')),
  state       TEXT NOT NULL CHECK (state IN ('scheduled', 'live', 'ended')),
  starts_at   INTEGER,                                  -- planned start of a scheduled room
  started_at  INTEGER,
  ended_at    INTEGER,
  created_at  INTEGER NOT NULL
);
CREATE INDEX rooms_state ON rooms(state, starts_at);
CREATE INDEX rooms_host ON rooms(host_id);

-- Members named at creation: 'invited' (may join a closed room) or 'cohost' (joins as moderator, may start it).
CREATE TABLE room_people (
  room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind    TEXT NOT NULL CHECK (kind IN ('invited', 'cohost')),
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX room_people_user ON room_people(user_id);

-- Removed from a room by a moderator: they cannot come back into it.
CREATE TABLE room_removals (
  room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  by_id      INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;

-- Participation history: one row per stretch a member held a role in a room (a role change closes one, opens the next).
CREATE TABLE room_participation (
  id         INTEGER PRIMARY KEY,
  room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role       TEXT NOT NULL CHECK (role IN ('host', 'moderator', 'speaker', 'audience')),
  from_at    INTEGER NOT NULL,
  to_at      INTEGER,                                   -- NULL while it lasts
  end_reason TEXT                                       -- role | left | removed | timeout | ended
);
CREATE INDEX room_participation_room ON room_participation(room_id, user_id);
CREATE INDEX room_participation_user ON room_participation(user_id);
