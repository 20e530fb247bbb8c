-- Version 12 (Postgres: pg/0012_bc_search_after_commit.sql): there, a message's search vector stopped being written
-- by its send's transaction, as SQLite's FTS5 row did in 0010. Nothing to do here; the file keeps the versions of both
-- dialects in step.
SELECT 1;
