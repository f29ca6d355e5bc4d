-- Exactly once with several processes on one database.
--
-- A message is claimed before it is handed to the server: status `sending`, the claiming
-- process in `claimed_by`, and a lease in `lease_until`. Only the claimant records the result;
-- a lease that runs out (the process was killed mid-send) returns the message to `pending`.
-- The outbox is rebuilt because SQLite cannot change a CHECK constraint in place.
CREATE TABLE outbox_claimed (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('digest', 'alert')),
    digest_id       INTEGER REFERENCES digests(id),
    change_id       INTEGER REFERENCES change_events(id),
    recipient       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,  -- deterministic per (database, digest or change, recipient)
    subject         TEXT NOT NULL,
    message         BLOB NOT NULL,         -- the whole RFC 5322 message, as sent
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    server_reply    TEXT,                  -- what the server said when it accepted (or refused) it
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    claimed_by      TEXT,                  -- the process sending it (status `sending`)
    lease_until     TEXT                   -- when an unfinished claim lapses
);
INSERT INTO outbox_claimed (id, kind, digest_id, change_id, recipient, message_id, subject, message, status,
                            attempts, next_attempt_at, last_error, server_reply, created_at, sent_at)
    SELECT id, kind, digest_id, change_id, recipient, message_id, subject, message, status,
           attempts, next_attempt_at, last_error, server_reply, created_at, sent_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_claimed RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);

-- This database's identity, drawn once: Message-IDs include it, so a rebuilt database or a
-- second installation never reuses a Message-ID for other content.
CREATE TABLE instance (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    token TEXT NOT NULL
);
INSERT INTO instance (id, token) VALUES (1, lower(hex(randomblob(8))));
