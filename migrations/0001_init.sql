-- Feeds, the stories read from them, and a log of poll cycles.
-- Times are RFC 3339 text in UTC (sortable, readable in the sqlite3 shell).

CREATE TABLE feeds (
    id                   INTEGER PRIMARY KEY,
    url                  TEXT NOT NULL UNIQUE,   -- where it is fetched now (follows permanent redirects)
    config_url           TEXT UNIQUE,            -- the URL as written in the config or `feeds add`
    name                 TEXT,
    title                TEXT,                   -- the feed's own title
    interval_secs        INTEGER,                -- per-feed override; NULL uses [poll] interval
    origin               TEXT NOT NULL DEFAULT 'cli' CHECK (origin IN ('config', 'cli', 'opml')),
    active               INTEGER NOT NULL DEFAULT 1,
    added_at             TEXT NOT NULL,
    -- polling state
    etag                 TEXT,
    last_modified        TEXT,
    last_polled_at       TEXT,
    last_success_at      TEXT,
    last_status          INTEGER,                -- HTTP status of the last attempt (NULL: no response)
    last_error           TEXT,                   -- why the last attempt failed, NULL when it worked
    error_kind           TEXT,                   -- timeout, connect, http, rate_limited, too_large, parse, gone
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since        TEXT,
    next_poll_at         TEXT,                   -- NULL: due now
    min_interval_secs    INTEGER,                -- from the feed's <ttl> / Cache-Control / Expires
    gone_at              TEXT,                   -- 410 Gone: not polled again until re-added
    moved_from           TEXT,                   -- the previous URL after a permanent redirect
    backfilled           INTEGER                 -- stories stored by the first successful poll
);

CREATE TABLE stories (
    id                  INTEGER PRIMARY KEY,
    feed_id             INTEGER NOT NULL REFERENCES feeds(id),
    entry_key           TEXT NOT NULL,           -- identity inside the feed: GUID, link or content hash
    entry_key_kind      TEXT NOT NULL CHECK (entry_key_kind IN ('guid', 'link', 'hash')),
    guid                TEXT,                    -- the entry's own id, when it has one
    url                 TEXT,
    canonical_url       TEXT,
    title               TEXT NOT NULL,
    summary             TEXT NOT NULL DEFAULT '', -- plain text
    content             TEXT NOT NULL DEFAULT '', -- plain text of the full content, when the feed has it
    author              TEXT,
    published_at        TEXT NOT NULL,
    published_estimated INTEGER NOT NULL DEFAULT 0, -- 1: the feed gave no usable date; fetch time used
    entry_updated_at    TEXT,
    fetched_at          TEXT NOT NULL,           -- first seen
    changed_at          TEXT,                    -- last time its content changed
    update_count        INTEGER NOT NULL DEFAULT 0,
    content_hash        TEXT NOT NULL,
    backfill            INTEGER NOT NULL DEFAULT 0, -- 1: stored by a feed's first poll (history, not news)
    UNIQUE (feed_id, entry_key)
);

CREATE INDEX stories_published ON stories (published_at);
CREATE INDEX stories_canonical_url ON stories (canonical_url);

CREATE TABLE poll_runs (
    id           INTEGER PRIMARY KEY,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    feeds        INTEGER NOT NULL DEFAULT 0,
    ok           INTEGER NOT NULL DEFAULT 0,
    not_modified INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    new_stories  INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0
);
