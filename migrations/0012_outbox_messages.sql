-- The outbox's messages move to a table of their own.
--
-- A message is stored as a zeroblob of its size, then written into its row in pieces
-- (incremental blob I/O), so a large digest is never held whole in memory; it is read back the
-- same way when sent. SQLite leaves a zeroblob unallocated only when it ends the row, and
-- rewrites a whole row on any update: a message in the outbox row itself was allocated twice
-- when queued and copied twice more by each claim and each recorded result.
CREATE TABLE outbox_messages (
    id      INTEGER PRIMARY KEY REFERENCES outbox(id),
    message BLOB NOT NULL                  -- the whole RFC 5322 message, as sent
);
INSERT INTO outbox_messages (id, message) SELECT id, message FROM outbox;
ALTER TABLE outbox DROP COLUMN message;
