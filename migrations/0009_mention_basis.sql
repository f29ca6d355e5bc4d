-- A stance can rest on a passing mention ('mention'): an organisation named beside the one that
-- acts (a competitor compared, a critic, a list member). Recorded for review; only 'report'
-- moves the timeline. SQLite cannot alter a CHECK, so the table is rebuilt (and the view that
-- reads it recreated around the rebuild).
DROP VIEW stance_by_month;

CREATE TABLE story_entities_new (
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    entity     TEXT NOT NULL,                      -- profile entity key (meta, openai, ...)
    stance     TEXT NOT NULL CHECK (stance IN ('open', 'closed', 'mixed', 'neutral')),
    confidence REAL NOT NULL,
    certainty  TEXT NOT NULL CHECK (certainty IN ('certain', 'probable', 'possible', 'question')),
    evidence   TEXT NOT NULL,                      -- the sentence that shows it
    basis      TEXT NOT NULL DEFAULT 'report'
        CHECK (basis IN ('report', 'dispute', 'opinion', 'mention')),
    PRIMARY KEY (story_id, entity)
);
INSERT INTO story_entities_new (story_id, entity, stance, confidence, certainty, evidence, basis)
    SELECT story_id, entity, stance, confidence, certainty, evidence, basis FROM story_entities;
DROP TABLE story_entities;
ALTER TABLE story_entities_new RENAME TO story_entities;
CREATE INDEX story_entities_entity ON story_entities (entity, stance);

-- As in 0005_timeline.sql.
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
