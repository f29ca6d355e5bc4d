-- Each organisation's timeline summary (months of evidence, regimes, the latest confirmed
-- change), saved by the timeline refresh so pages and `history` read a row instead of
-- recomputing from every reading. A per-organisation counter moves whenever its evidence may
-- read differently; a summary is current while its counter has not moved and it was computed
-- with the same prior and change settings (`settings`).
CREATE TABLE entity_generations (
    entity     TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE entity_summaries (
    entity     TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,   -- entity_generations.generation it was computed at
    settings   TEXT NOT NULL,      -- fingerprint of the prior and change settings it used
    summary    TEXT NOT NULL       -- JSON (timeline::Summary)
) WITHOUT ROWID;

CREATE TRIGGER entity_generation_reading_added AFTER INSERT ON story_entities BEGIN
    INSERT INTO entity_generations (entity, generation) VALUES (NEW.entity, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER entity_generation_reading_changed AFTER UPDATE ON story_entities BEGIN
    INSERT INTO entity_generations (entity, generation) VALUES (OLD.entity, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1;
    INSERT INTO entity_generations (entity, generation) VALUES (NEW.entity, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER entity_generation_reading_removed AFTER DELETE ON story_entities BEGIN
    INSERT INTO entity_generations (entity, generation) VALUES (OLD.entity, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER entity_generation_shift_added AFTER INSERT ON story_shifts BEGIN
    INSERT INTO entity_generations (entity, generation) VALUES (NEW.entity, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER entity_generation_shift_changed AFTER UPDATE ON story_shifts BEGIN
    INSERT INTO entity_generations (entity, generation) VALUES (OLD.entity, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1;
    INSERT INTO entity_generations (entity, generation) VALUES (NEW.entity, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1;
END;
CREATE TRIGGER entity_generation_shift_removed AFTER DELETE ON story_shifts BEGIN
    INSERT INTO entity_generations (entity, generation) VALUES (OLD.entity, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1;
END;
-- What a story's readings are read with: its cluster, date, outlet, address and wording.
CREATE TRIGGER entity_generation_story_changed
    AFTER UPDATE OF title, summary, url, canonical_url, outlet, published_at, relevant, cluster_id ON stories BEGIN
    INSERT INTO entity_generations (entity, generation)
        SELECT entity, 1 FROM story_entities WHERE story_id = NEW.id
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1;
END;
