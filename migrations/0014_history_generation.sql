-- A counter that moves whenever an organisation's history may read differently: a story stored,
-- changed, re-read, clustered or removed, a change event or its evidence saved, upgraded or
-- withdrawn. Readers (the web view) keep computed histories while it stands still.
INSERT OR IGNORE INTO store_settings (key, value) VALUES ('history_generation', '0');

CREATE TRIGGER history_generation_story_added AFTER INSERT ON stories BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
CREATE TRIGGER history_generation_story_changed
    AFTER UPDATE OF title, summary, url, canonical_url, outlet, published_at, relevant, cluster_id ON stories BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
CREATE TRIGGER history_generation_story_removed AFTER DELETE ON stories BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
CREATE TRIGGER history_generation_reading_added AFTER INSERT ON story_entities BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
CREATE TRIGGER history_generation_reading_removed AFTER DELETE ON story_entities BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
CREATE TRIGGER history_generation_change_added AFTER INSERT ON change_events BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
CREATE TRIGGER history_generation_change_updated AFTER UPDATE ON change_events BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
CREATE TRIGGER history_generation_change_removed AFTER DELETE ON change_events BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
CREATE TRIGGER history_generation_evidence_added AFTER INSERT ON change_evidence BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
CREATE TRIGGER history_generation_evidence_removed AFTER DELETE ON change_evidence BEGIN
    UPDATE store_settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'history_generation';
END;
