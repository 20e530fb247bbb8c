-- Replays (issue 10). A room is recorded only if its host turned recording on (and the admin allows it, the
-- `recording` setting); each speaker's own consent decides whether their audio is kept (R-rules in docs/SPEC.md).
ALTER TABLE rooms ADD COLUMN recording INTEGER NOT NULL DEFAULT 0 CHECK (recording IN (0, 1));

-- Every consent and refusal, with its time: a speaker's latest row for a room is their current answer.
CREATE TABLE recording_consents (
  id      INTEGER PRIMARY KEY,
  room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  consent INTEGER NOT NULL CHECK (consent IN (0, 1)),
  at      INTEGER NOT NULL
);
CREATE INDEX recording_consents_room ON recording_consents(room_id, user_id, id);

-- One append-only capture file per speaker per room (server/replays/capture-format.ts), relative to DATA_DIR.
CREATE TABLE recording_tracks (
  room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  path       TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  bytes      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;

-- One replay per recorded room. state: 'pending' (waits for the mix job) → 'mixing' → 'ready' | 'failed';
-- a speaker's withdrawal sets it back to 'pending' (mixed again without them).
CREATE TABLE replays (
  id          INTEGER PRIMARY KEY,
  room_id     INTEGER NOT NULL UNIQUE REFERENCES rooms(id) ON DELETE CASCADE,
  state       TEXT NOT NULL CHECK (state IN ('pending', 'mixing', 'ready', 'failed')),
  progress    REAL NOT NULL DEFAULT 0,        -- 0..1 while mixing
  path        TEXT,                           -- the Ogg Opus file, relative to DATA_DIR
  bytes       INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  chapters    TEXT NOT NULL DEFAULT '[]',     -- JSON [{startMs, title, kind: 'speaker'|'question', userId?}]
  timeline    TEXT NOT NULL DEFAULT '[]',     -- JSON [{at, ms, len}]: wall time `at` (epoch ms) maps to replay `ms`
  speakers    TEXT NOT NULL DEFAULT '[]',     -- JSON user ids heard in the mix
  left_out    TEXT NOT NULL DEFAULT '[]',     -- JSON user ids left out (refused, or withdrew)
  error       TEXT,
  created_at  INTEGER NOT NULL,
  ready_at    INTEGER
);
CREATE INDEX replays_state ON replays(state);

-- A speaker who withdrew from a replay after the fact.
CREATE TABLE replay_withdrawals (
  replay_id INTEGER NOT NULL REFERENCES replays(id) ON DELETE CASCADE,
  user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  at        INTEGER NOT NULL,
  PRIMARY KEY (replay_id, user_id)
) WITHOUT ROWID;

-- Clips: up to 60 s cut from a replay by a listener, with its own share link.
CREATE TABLE clips (
  id          INTEGER PRIMARY KEY,
  slug        TEXT NOT NULL UNIQUE,
  replay_id   INTEGER NOT NULL REFERENCES replays(id) ON DELETE CASCADE,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title       TEXT NOT NULL DEFAULT '',
  start_ms    INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  path        TEXT,
  bytes       INTEGER NOT NULL DEFAULT 0,
  speakers    TEXT NOT NULL DEFAULT '[]',
  created_at  INTEGER NOT NULL
);
CREATE INDEX clips_replay ON clips(replay_id);

-- A member's private podcast feed: the SHA-256 of its secret (the secret is shown once per request for a new one).
CREATE TABLE feed_secrets (
  user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret_hash TEXT NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL
);
