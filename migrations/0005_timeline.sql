-- Stance over time: change events found in each entity's timeline, with their evidence, and
-- views for reviewing the history with sqlite3 or Datasette.

-- What each stance rests on: a report of what the organisation does ('report'), a licence
-- dispute ('dispute') or critics' opinion ('opinion'). Only reports move the timeline.
ALTER TABLE story_entities ADD COLUMN basis TEXT NOT NULL DEFAULT 'report'
    CHECK (basis IN ('report', 'dispute', 'opinion'));

-- Stories updated since a time (the timelines they touch are recomputed).
CREATE INDEX stories_changed ON stories (changed_at) WHERE changed_at IS NOT NULL;

CREATE TABLE change_events (
    id            INTEGER PRIMARY KEY,
    entity        TEXT NOT NULL,
    -- entity|from|to|day the left regime began: stable when the timeline is recomputed, so a
    -- `possible` change later confirmed is the same row
    event_key     TEXT NOT NULL UNIQUE,
    from_stance   TEXT NOT NULL CHECK (from_stance IN ('open', 'closed', 'mixed')),
    to_stance     TEXT NOT NULL CHECK (to_stance IN ('open', 'closed', 'mixed')),
    level         TEXT NOT NULL CHECK (level IN ('possible', 'confirmed')),
    at            TEXT NOT NULL,          -- YYYY-MM-DD: the first new-stance evidence, by published date
    detected_at   TEXT NOT NULL,          -- when stancewatch first reported it
    confirmed_at  TEXT,                   -- when it was (first) confirmed
    confidence    REAL NOT NULL,          -- posterior probability of the change
    withdrawn_at  TEXT                    -- later evidence (a late story) no longer supports it
);
CREATE INDEX change_events_entity ON change_events (entity, at);

CREATE TABLE change_evidence (
    change_id INTEGER NOT NULL REFERENCES change_events(id),
    story_id  INTEGER NOT NULL REFERENCES stories(id),
    PRIMARY KEY (change_id, story_id)
);

-- Per entity and month: how many story clusters took each stance (relevant stories only; a
-- cluster counts once per stance, on the month of its earliest article).
CREATE VIEW stance_by_month AS
WITH cluster_stance AS (
    SELECT e.entity, s.cluster_id, e.stance, min(s.published_at) AS first_published
    FROM story_entities e JOIN stories s ON s.id = e.story_id
    WHERE s.relevant = 1 AND e.stance != 'neutral'
    GROUP BY e.entity, s.cluster_id, e.stance
)
SELECT entity,
       substr(first_published, 1, 7)             AS month,
       sum(stance = 'open')                      AS open_clusters,
       sum(stance = 'closed')                    AS closed_clusters,
       sum(stance = 'mixed')                     AS mixed_clusters
FROM cluster_stance
GROUP BY entity, month;

-- Every change event (withdrawn ones included, marked) with each evidence story.
CREATE VIEW change_events_with_evidence AS
SELECT c.id AS change_id, c.entity, c.from_stance, c.to_stance, c.level, c.at, c.detected_at,
       c.confidence, c.withdrawn_at,
       s.id AS story_id, s.published_at, s.outlet, s.title, s.url
FROM change_events c
LEFT JOIN change_evidence v ON v.change_id = c.id
LEFT JOIN stories s ON s.id = v.story_id;
