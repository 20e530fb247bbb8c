-- The first-run setup link's token (A6, A35), shared by every node (SQLite: 0011_setup_token.sql).
CREATE TABLE setup_token (
  k          INTEGER PRIMARY KEY CHECK (k = 0),
  token      TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
