-- `stories` shows one line per cluster, led by its first article: with the published time in
-- the index, finding a cluster's first article is one index seek, not a sort per row.
CREATE INDEX stories_cluster_first ON stories (cluster_id, published_at, id);
DROP INDEX stories_cluster;
