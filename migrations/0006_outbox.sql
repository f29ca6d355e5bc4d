-- Mail that loses nothing and sends nothing twice: every message is composed and stored here
-- before it is sent, and marked sent only after the server accepted it.

-- One row per digest composed (a period, or a manual `digest --send`).
CREATE TABLE digests (
    id          INTEGER PRIMARY KEY,
    period      TEXT NOT NULL UNIQUE,     -- e.g. daily:2026-11-27, or manual:<time>
    created_at  TEXT NOT NULL,
    clusters    INTEGER NOT NULL,         -- story clusters mailed
    backfilled  INTEGER NOT NULL          -- older backfilled clusters counted, not mailed
);

-- Stories a digest covered: a cluster with any story here is never mailed again.
CREATE TABLE digest_stories (
    story_id  INTEGER PRIMARY KEY REFERENCES stories(id),
    digest_id INTEGER NOT NULL REFERENCES digests(id)
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('digest', 'alert')),
    digest_id       INTEGER REFERENCES digests(id),
    change_id       INTEGER REFERENCES change_events(id),
    recipient       TEXT NOT NULL,
    message_id      TEXT NOT NULL UNIQUE,  -- deterministic per (digest or change, recipient)
    subject         TEXT NOT NULL,
    message         BLOB NOT NULL,         -- the whole RFC 5322 message, as sent
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    server_reply    TEXT,                  -- what the server said when it accepted (or refused) it
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
