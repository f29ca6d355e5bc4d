-- `status` and `/metrics` count the stories first seen today and the relevant ones; retention
-- finds old stories by first-seen time. These indexes answer them without a table scan.
CREATE INDEX stories_fetched ON stories (fetched_at);
CREATE INDEX stories_relevant ON stories (cluster_id) WHERE relevant = 1;
