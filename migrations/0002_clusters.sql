-- Cross-outlet deduplication: every story belongs to a story cluster (the same article from
-- several outlets, or several articles about one event). A cluster's id is the smallest story
-- id in it; when two clusters turn out to be one, the larger id is rewritten to the smaller.

ALTER TABLE stories ADD COLUMN outlet TEXT;        -- registrable domain of the publishing outlet
ALTER TABLE stories ADD COLUMN cluster_id INTEGER; -- story cluster (see the story_clusters view)

-- Stories stored before clustering existed are clusters of their own.
UPDATE stories SET cluster_id = id WHERE cluster_id IS NULL;

CREATE INDEX stories_cluster ON stories (cluster_id);

-- One row per story cluster: when it was first published and first seen, how many articles and
-- outlets, the outlets, and the headline of its earliest article.
CREATE VIEW story_clusters AS
SELECT s.cluster_id                       AS cluster,
       min(s.published_at)                AS first_published,
       min(s.fetched_at)                  AS first_seen,
       count(*)                           AS articles,
       count(DISTINCT s.outlet)           AS outlet_count,
       group_concat(DISTINCT s.outlet)    AS outlets,
       (SELECT r.title FROM stories r WHERE r.cluster_id = s.cluster_id
        ORDER BY r.published_at, r.id LIMIT 1) AS title
FROM stories s
GROUP BY s.cluster_id;
