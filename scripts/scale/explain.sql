-- Facts about the database scripts/scale.sh built, for reading its query times:
-- `sqlite3 DB < explain.sql`. (The queries themselves live in src/store/; to see a plan, run
-- EXPLAIN QUERY PLAN on the statement there.)
.echo off
.headers off

SELECT '== how many stories --search must scan (rows, and rows matching each word):';
SELECT count(*) FROM stories;
SELECT 'glacier', count(*) FROM stories WHERE title LIKE '%glacier%' OR summary LIKE '%glacier%';
SELECT 'Zuckerberg', count(*) FROM stories WHERE title LIKE '%Zuckerberg%' OR summary LIKE '%Zuckerberg%';
SELECT '== rows the full-text index (story_search) finds for each word (what --search reads now):';
SELECT 'glacier', count(*) FROM story_search WHERE story_search MATCH '"glacier"*';
SELECT 'Zuckerberg', count(*) FROM story_search WHERE story_search MATCH '"Zuckerberg"*';
SELECT '== stories speaking about meta:';
SELECT count(*) FROM story_entities WHERE entity = 'meta';
