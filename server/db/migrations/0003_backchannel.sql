-- Backchannel: threads (dm, group, room chat, backstage), members, messages, reactions, images, Q&A, search.
-- Every change gets a global increasing seq (bc_counter); rows carry the seq of their last change so that a
-- client can sync everything after the last seq it saw.
CREATE TABLE bc_counter (
  id  INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL
);
INSERT INTO bc_counter (id, seq) VALUES (1, 0);

CREATE TABLE bc_threads (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('dm', 'group', 'room_chat', 'backstage')),
  title           TEXT NOT NULL DEFAULT '',
  creator_id      INTEGER REFERENCES users(id) ON DELETE SET NULL,
  dm_key          TEXT UNIQUE,              -- 'small:large' user ids for a dm: one thread per pair
  room_id         INTEGER,                  -- for room_chat and backstage
  chat_enabled    INTEGER NOT NULL DEFAULT 1,
  last_message_id INTEGER,
  last_at         INTEGER NOT NULL,         -- time of the last message (or creation): the inbox order
  last_seq        INTEGER NOT NULL DEFAULT 0, -- seq of the last change of anything in the thread
  meta_seq        INTEGER NOT NULL DEFAULT 0, -- seq of the last change of the thread itself (title, members, chat)
  created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX bc_threads_room ON bc_threads(room_id, kind) WHERE room_id IS NOT NULL;

CREATE TABLE bc_members (
  thread_id    INTEGER NOT NULL REFERENCES bc_threads(id) ON DELETE CASCADE,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  -- active: in the inbox; request: waiting for the recipient to accept; declined: hidden;
  -- left: left or removed (a group) or no longer in the room (room threads stay readable)
  state        TEXT NOT NULL CHECK (state IN ('active', 'request', 'declined', 'left')),
  muted        INTEGER NOT NULL DEFAULT 0,
  last_read_id INTEGER NOT NULL DEFAULT 0,
  seq          INTEGER NOT NULL DEFAULT 0,  -- seq of the last change of this row
  joined_at    INTEGER NOT NULL,
  PRIMARY KEY (thread_id, user_id)
) WITHOUT ROWID;
CREATE INDEX bc_members_user ON bc_members(user_id, thread_id);

CREATE TABLE bc_messages (
  id         INTEGER PRIMARY KEY,
  thread_id  INTEGER NOT NULL REFERENCES bc_threads(id) ON DELETE CASCADE,
  author_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
  client_id  TEXT NOT NULL,                -- unique per author: a retried send returns the stored message
  body       TEXT NOT NULL DEFAULT '',
  image      TEXT,                          -- an upload's name (bc_uploads)
  reply_to   INTEGER,
  created_at INTEGER NOT NULL,
  edited_at  INTEGER,
  deleted_at INTEGER,                       -- a tombstone: body and image are cleared
  seq        INTEGER NOT NULL
);
CREATE UNIQUE INDEX bc_messages_client ON bc_messages(author_id, client_id);
CREATE INDEX bc_messages_thread ON bc_messages(thread_id, id);
CREATE INDEX bc_messages_thread_seq ON bc_messages(thread_id, seq);

CREATE TABLE bc_reactions (
  message_id INTEGER NOT NULL REFERENCES bc_messages(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  emoji      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (message_id, user_id, emoji)
) WITHOUT ROWID;

CREATE TABLE bc_uploads (
  name       TEXT PRIMARY KEY,              -- file name under uploads/backchannel
  thread_id  INTEGER NOT NULL REFERENCES bc_threads(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  mime       TEXT NOT NULL,
  size       INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE bc_prefs (
  user_id        INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  followers_only INTEGER NOT NULL DEFAULT 0  -- accept messages only from people I follow
);

-- Q&A of a room: kept with the room's chat thread so that it syncs with it.
CREATE TABLE bc_questions (
  id         INTEGER PRIMARY KEY,
  thread_id  INTEGER NOT NULL REFERENCES bc_threads(id) ON DELETE CASCADE,
  room_id    INTEGER NOT NULL,
  author_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
  client_id  TEXT NOT NULL,
  body       TEXT NOT NULL,
  state      TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'answered', 'dismissed')),
  votes      INTEGER NOT NULL DEFAULT 0,
  staged_at  INTEGER,
  created_at INTEGER NOT NULL,
  seq        INTEGER NOT NULL
);
CREATE UNIQUE INDEX bc_questions_client ON bc_questions(author_id, client_id);
CREATE INDEX bc_questions_thread_seq ON bc_questions(thread_id, seq);

CREATE TABLE bc_votes (
  question_id INTEGER NOT NULL REFERENCES bc_questions(id) ON DELETE CASCADE,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (question_id, user_id)
) WITHOUT ROWID;

-- Full-text search over message bodies (external content: the text lives once, in bc_messages).
CREATE VIRTUAL TABLE bc_fts USING fts5(body, content = 'bc_messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER bc_messages_ai AFTER INSERT ON bc_messages BEGIN
  INSERT INTO bc_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER bc_messages_ad AFTER DELETE ON bc_messages BEGIN
  INSERT INTO bc_fts(bc_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER bc_messages_au AFTER UPDATE OF body ON bc_messages BEGIN
  INSERT INTO bc_fts(bc_fts, rowid, body) VALUES ('delete', old.id, old.body);
  INSERT INTO bc_fts(rowid, body) VALUES (new.id, new.body);
END;
