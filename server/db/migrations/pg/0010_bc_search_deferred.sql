-- Version 10 (SQLite: 0010_bc_search_deferred.sql): there, the send's transaction stopped writing the FTS5 row, and
-- a mark (bc_fts_mark) says which messages a second, later transaction has indexed. Nothing to do here: Postgres's
-- search is the generated column bc_messages.search (0003), written with its row, and its GIN index already defers
-- the index's own merge (fastupdate's pending list, on by default). bc_fts_mark, like bc_fts, has no table here.
SELECT 1;
