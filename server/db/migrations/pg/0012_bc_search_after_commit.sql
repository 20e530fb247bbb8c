-- Version 12 (SQLite: 0012_bc_search_after_commit.sql, nothing there): bc_messages.search, a generated column since
-- 0003, becomes a plain one written after the send's commit (B63), as SQLite's FTS5 row since 0010: computed under the
-- seq lock, the vector and its GIN entries were a quarter of a 1,000-message insert's time there, and the GIN index's
-- pending list, flushed by whichever insert filled it, its longest waits (docs/PERFORMANCE.md). A new message's vector
-- is NULL until a node's catch-up (PgBackchannelStore.indexSearch) fills it; meanwhile search reads its body
-- (to_tsvector at the query, rows found by the partial index below), so a message is found as soon as its send is
-- acknowledged, on every node (B49). An edit writes the vector with the body, a delete empties it.
-- DROP EXPRESSION (Postgres 13) keeps every row's vector and the GIN index as they are.
ALTER TABLE bc_messages ALTER COLUMN search DROP EXPRESSION;
CREATE INDEX bc_messages_unsearched ON bc_messages(id) WHERE search IS NULL;
