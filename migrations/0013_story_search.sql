-- Full-text search over story titles and summaries (`stories --search`, the web view's /stories).
-- External content: the index reads its text from `stories`, so the database grows by the index
-- alone, not by a second copy of every title and summary. columnsize=0: results are ordered by
-- date, never by rank, so the per-row token counts rank functions need are not stored.
CREATE VIRTUAL TABLE story_search USING fts5(
    title, summary,
    content = 'stories', content_rowid = 'id',
    columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- An external-content index forgets a row only when told the exact text it indexed, so updates
-- and deletes hand it the row's old values.
CREATE TRIGGER story_search_insert AFTER INSERT ON stories BEGIN
    INSERT INTO story_search (rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;

CREATE TRIGGER story_search_delete AFTER DELETE ON stories BEGIN
    INSERT INTO story_search (story_search, rowid, title, summary) VALUES ('delete', old.id, old.title, old.summary);
END;

-- Updated entries, and retention blanking summaries (store/care.rs). Only a real change of the
-- indexed text touches the index: the cluster, reading and full-text updates leave it alone.
CREATE TRIGGER story_search_update AFTER UPDATE OF title, summary ON stories
WHEN old.title IS NOT new.title OR old.summary IS NOT new.summary BEGIN
    INSERT INTO story_search (story_search, rowid, title, summary) VALUES ('delete', old.id, old.title, old.summary);
    INSERT INTO story_search (rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;

-- The stories stored before this migration.
INSERT INTO story_search (story_search) VALUES ('rebuild');
