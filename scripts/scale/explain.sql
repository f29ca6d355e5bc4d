-- Query plans of the read paths scripts/scale.sh times, for `sqlite3 DB < explain.sql`.
-- The statements are copies of the SQL in src/store/stories.rs (Store::stories) and
-- src/store/timeline.rs (entity_observations) and
-- src/store/status.rs (counts); keep them in step when those change.
-- Parameters stay unbound: a plan is chosen when the statement is prepared, not per value.
.echo off
.headers off

SELECT '== stories (cluster mode; --entity / --search / --since as ?6 / ?3 / ?1):';
EXPLAIN QUERY PLAN
SELECT s.id, s.title, s.url, s.canonical_url, coalesce(s.outlet, ''), coalesce(f.name, f.title, f.url),
       s.published_at, s.published_estimated, s.fetched_at, s.summary, s.backfill, s.update_count,
       s.cluster_id, s.relevant,
       (SELECT group_concat(DISTINCT m.outlet) FROM stories m WHERE m.cluster_id = s.cluster_id),
       (SELECT count(*) FROM stories m WHERE m.cluster_id = s.cluster_id)
FROM stories s JOIN feeds f ON f.id = s.feed_id
WHERE (?5 OR s.id = (SELECT r.id FROM stories r WHERE r.cluster_id = s.cluster_id
                     ORDER BY r.published_at, r.id LIMIT 1))
  AND (?1 IS NULL OR s.published_at >= ?1) AND (?2 IS NULL OR s.published_at < ?2)
  AND (?3 IS NULL OR s.title LIKE ?3 ESCAPE '\' OR s.summary LIKE ?3 ESCAPE '\'
       OR (NOT ?5 AND EXISTS (SELECT 1 FROM stories m WHERE m.cluster_id = s.cluster_id
            AND (m.title LIKE ?3 ESCAPE '\' OR m.summary LIKE ?3 ESCAPE '\'))))
  AND (?6 IS NULL OR EXISTS (SELECT 1 FROM stories m JOIN story_entities e ON e.story_id = m.id
            WHERE (m.id = s.id OR (NOT ?5 AND m.cluster_id = s.cluster_id))
              AND e.entity = ?6 AND (?7 IS NULL OR e.stance = ?7)))
ORDER BY s.published_at DESC, s.id DESC
LIMIT ?4;

-- With the stance filter written as (?7 IS NULL OR e.stance = ?7), the planner drives the
-- --entity subquery from story_entities_entity (entity, stance): for every candidate story it
-- walks all of the entity's rows. The same subquery with no stance term (as it could be prepared
-- when --stance is not given) is driven from the story and its cluster instead:
SELECT '== the --entity subquery without the stance term (for comparison):';
EXPLAIN QUERY PLAN
SELECT s.id FROM stories s
WHERE (?5 OR s.id = (SELECT r.id FROM stories r WHERE r.cluster_id = s.cluster_id
                     ORDER BY r.published_at, r.id LIMIT 1))
  AND (?6 IS NULL OR EXISTS (SELECT 1 FROM stories m JOIN story_entities e ON e.story_id = m.id
            WHERE (m.id = s.id OR (NOT ?5 AND m.cluster_id = s.cluster_id)) AND e.entity = ?6))
ORDER BY s.published_at DESC, s.id DESC LIMIT ?4;

SELECT '== entity evidence (history, stances: once per entity):';
EXPLAIN QUERY PLAN
SELECT s.cluster_id, s.id, s.published_at, s.outlet, coalesce(s.canonical_url, s.url, s.title),
       e.stance, e.confidence, e.certainty, h.to_stance
FROM story_entities e JOIN stories s ON s.id = e.story_id
LEFT JOIN story_shifts h ON h.story_id = e.story_id AND h.entity = e.entity
WHERE e.story_id > ?3 AND e.entity = ?1 AND s.relevant = 1 AND e.stance != 'neutral'
  AND e.basis = 'report' AND (?2 IS NULL OR s.published_at <= ?2);

SELECT '== status counts (src/store/status.rs):';
EXPLAIN QUERY PLAN SELECT count(*) FROM stories WHERE relevant = 1;
EXPLAIN QUERY PLAN SELECT count(*) FROM stories WHERE fetched_at >= ?1;

SELECT '== how many stories --search must scan (rows, and rows matching each word):';
SELECT count(*) FROM stories;
SELECT 'glacier', count(*) FROM stories WHERE title LIKE '%glacier%' OR summary LIKE '%glacier%';
SELECT 'Zuckerberg', count(*) FROM stories WHERE title LIKE '%Zuckerberg%' OR summary LIKE '%Zuckerberg%';
SELECT '== stories speaking about meta:';
SELECT count(*) FROM story_entities WHERE entity = 'meta';
