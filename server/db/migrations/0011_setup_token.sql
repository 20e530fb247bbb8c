-- The first-run setup link's token (A6, A35), shared by every node of a cluster (issue 11): the first node to start
-- while there is no admin writes it, every node prints the same link and accepts it, and the setup that makes the
-- admin deletes the row in its transaction (the first use wins). A row only while there is no admin.
CREATE TABLE setup_token (
  k          INTEGER PRIMARY KEY CHECK (k = 0),
  token      TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
