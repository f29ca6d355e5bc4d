-- Which changes to an organisation's evidence rewrite it (a reading or shift changed or removed;
-- a relevant, clustered story's text, address, outlet, date, relevance or cluster changed, as
-- when two clusters merge) rather than add to it: a timeline computed before a rewrite can only
-- be recomputed, not extended with the new readings. The story trigger now leaves out stories
-- that are not relevant (never evidence: retention blanking their text moves nothing) and a new
-- story's first cluster (its readings' insert already counted).
ALTER TABLE entity_generations ADD COLUMN rewrites INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER entity_generation_reading_changed;
DROP TRIGGER entity_generation_reading_removed;
DROP TRIGGER entity_generation_shift_changed;
DROP TRIGGER entity_generation_shift_removed;
DROP TRIGGER entity_generation_story_changed;

CREATE TRIGGER entity_generation_reading_changed AFTER UPDATE ON story_entities BEGIN
    INSERT INTO entity_generations (entity, generation, rewrites) VALUES (OLD.entity, 1, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, rewrites = rewrites + 1;
    INSERT INTO entity_generations (entity, generation, rewrites) VALUES (NEW.entity, 1, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, rewrites = rewrites + 1;
END;
CREATE TRIGGER entity_generation_reading_removed AFTER DELETE ON story_entities BEGIN
    INSERT INTO entity_generations (entity, generation, rewrites) VALUES (OLD.entity, 1, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, rewrites = rewrites + 1;
END;
CREATE TRIGGER entity_generation_shift_changed AFTER UPDATE ON story_shifts BEGIN
    INSERT INTO entity_generations (entity, generation, rewrites) VALUES (OLD.entity, 1, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, rewrites = rewrites + 1;
    INSERT INTO entity_generations (entity, generation, rewrites) VALUES (NEW.entity, 1, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, rewrites = rewrites + 1;
END;
CREATE TRIGGER entity_generation_shift_removed AFTER DELETE ON story_shifts BEGIN
    INSERT INTO entity_generations (entity, generation, rewrites) VALUES (OLD.entity, 1, 1)
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, rewrites = rewrites + 1;
END;
CREATE TRIGGER entity_generation_story_changed
    AFTER UPDATE OF title, summary, url, canonical_url, outlet, published_at, relevant, cluster_id ON stories
    WHEN OLD.cluster_id IS NOT NULL AND (OLD.relevant = 1 OR NEW.relevant = 1) BEGIN
    INSERT INTO entity_generations (entity, generation, rewrites)
        SELECT entity, 1, 1 FROM story_entities WHERE story_id = NEW.id
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, rewrites = rewrites + 1;
END;
