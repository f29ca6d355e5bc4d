-- New stories reach the full-text index in one statement per transaction (store/stories.rs)
-- instead of a trigger per row: FTS5 writes its pending terms out at each statement of a
-- transaction it takes part in, so a trigger per insert wrote the index out once per story.
-- Updates and deletes keep their triggers (they are rare).
DROP TRIGGER story_search_insert;
