-- Which profile and engine the stored stance readings come from: when either changes, the
-- stored stories are read again (`Store::reread_stories`).

CREATE TABLE store_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
