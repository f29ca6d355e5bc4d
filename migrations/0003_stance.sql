-- What each story says about each organisation (the stance engine's output).

ALTER TABLE stories ADD COLUMN relevant INTEGER;   -- 1: about AI openness; 0: not; NULL: not classified
ALTER TABLE stories ADD COLUMN relevance REAL;     -- the relevance score behind it

CREATE TABLE story_entities (
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    entity     TEXT NOT NULL,                      -- profile entity key (meta, openai, ...)
    stance     TEXT NOT NULL CHECK (stance IN ('open', 'closed', 'mixed', 'neutral')),
    confidence REAL NOT NULL,
    certainty  TEXT NOT NULL CHECK (certainty IN ('certain', 'probable', 'possible', 'question')),
    evidence   TEXT NOT NULL,                      -- the sentence that shows it
    PRIMARY KEY (story_id, entity)
);
CREATE INDEX story_entities_entity ON story_entities (entity, stance);

CREATE TABLE story_shifts (
    story_id    INTEGER NOT NULL REFERENCES stories(id),
    entity      TEXT NOT NULL,
    from_stance TEXT NOT NULL,
    to_stance   TEXT NOT NULL,
    PRIMARY KEY (story_id, entity)
);
