-- Backchannel search indexed after the send's commit (issue 11): a send's transaction no longer writes its FTS5 row.
-- Messages up to bc_fts_mark.indexed are in bc_fts; those above it are indexed by a second, later transaction
-- (BackchannelStore.indexSearch: shortly after a batch of sends, before every search, and at start, which covers a
-- crash between the two). The edit and delete triggers touch only indexed rows (the index holds exactly the body of
-- each of them); an insert at or below the mark (its id reused after the newest messages were deleted) is indexed
-- at once, as before.
CREATE TABLE bc_fts_mark (
  k       INTEGER PRIMARY KEY CHECK (k = 0),
  indexed INTEGER NOT NULL
);
-- Every message so far was indexed by the trigger this replaces.
INSERT INTO bc_fts_mark (k, indexed) SELECT 0, COALESCE(MAX(id), 0) FROM bc_messages;

DROP TRIGGER bc_messages_ai;
DROP TRIGGER bc_messages_ad;
DROP TRIGGER bc_messages_au;
CREATE TRIGGER bc_messages_ai AFTER INSERT ON bc_messages
WHEN new.id <= (SELECT indexed FROM bc_fts_mark WHERE k = 0) BEGIN
  INSERT INTO bc_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER bc_messages_ad AFTER DELETE ON bc_messages
WHEN old.id <= (SELECT indexed FROM bc_fts_mark WHERE k = 0) BEGIN
  INSERT INTO bc_fts(bc_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER bc_messages_au AFTER UPDATE OF body ON bc_messages
WHEN old.id <= (SELECT indexed FROM bc_fts_mark WHERE k = 0) BEGIN
  INSERT INTO bc_fts(bc_fts, rowid, body) VALUES ('delete', old.id, old.body);
  INSERT INTO bc_fts(rowid, body) VALUES (new.id, new.body);
END;
