-- The optional language-model judge ([judge] in the config).
-- Which reader decided each story-organisation reading: the built-in reader, or the judge.
ALTER TABLE story_entities ADD COLUMN reader TEXT NOT NULL DEFAULT 'built-in';
-- The judge (model and prompt version, "model|version") whose judgement a story's readings
-- are; NULL: the built-in reader's. A re-read with the built-in reader clears it.
ALTER TABLE stories ADD COLUMN judged_with TEXT;
-- Stories waiting for the judge, newest first, with what its scope asks of them (no table
-- lookups while a pass looks for candidates among a million unjudged stories).
CREATE INDEX stories_unjudged ON stories (id, relevant, relevance) WHERE judged_with IS NULL;
CREATE INDEX stories_judged ON stories (judged_with) WHERE judged_with IS NOT NULL;

-- Accepted judgements, by the text judged (title and summary) and the judge: a text is never
-- sent twice to the same model with the same prompt.
CREATE TABLE judgements (
    text_hash  TEXT NOT NULL,
    judge      TEXT NOT NULL,
    answer     TEXT NOT NULL,     -- the validated answer as the model gave it
    judged_at  TEXT NOT NULL,
    PRIMARY KEY (text_hash, judge)
) WITHOUT ROWID;

-- Requests sent per UTC day (against [judge] daily_limit), and stories to try again later.
CREATE TABLE judge_days (
    day      TEXT PRIMARY KEY,
    requests INTEGER NOT NULL
) WITHOUT ROWID;
-- `rejections`: answers rejected (after three the story keeps the built-in reading for good);
-- `failures`: requests that got no answer (each doubles the wait).
CREATE TABLE judge_retries (
    story_id   INTEGER PRIMARY KEY REFERENCES stories(id),
    rejections INTEGER NOT NULL DEFAULT 0,
    failures   INTEGER NOT NULL DEFAULT 0,
    next_at    TEXT NOT NULL,
    last_error TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
