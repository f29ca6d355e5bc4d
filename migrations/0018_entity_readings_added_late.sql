-- A reading added to a story already stored and clustered (a re-read, an edited story naming a
-- new organisation, written by another process) adds evidence inside the timeline, not at its
-- end: it counts as a rewrite. A new story's readings are inserted before its cluster is
-- assigned, so they stay plain additions.
DROP TRIGGER entity_generation_reading_added;
DROP TRIGGER entity_generation_shift_added;

CREATE TRIGGER entity_generation_reading_added AFTER INSERT ON story_entities BEGIN
    INSERT INTO entity_generations (entity, generation, rewrites)
        VALUES (NEW.entity, 1, (SELECT count(*) FROM stories WHERE id = NEW.story_id AND cluster_id IS NOT NULL))
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, rewrites = rewrites + excluded.rewrites;
END;
CREATE TRIGGER entity_generation_shift_added AFTER INSERT ON story_shifts BEGIN
    INSERT INTO entity_generations (entity, generation, rewrites)
        VALUES (NEW.entity, 1, (SELECT count(*) FROM stories WHERE id = NEW.story_id AND cluster_id IS NOT NULL))
        ON CONFLICT (entity) DO UPDATE SET generation = generation + 1, rewrites = rewrites + excluded.rewrites;
END;
