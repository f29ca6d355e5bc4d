-- Stories the stance engine has not read (a reading that failed, or stored before readings
-- existed). Each poll looks for them; this keeps that a lookup instead of a scan of every story.
CREATE INDEX stories_unread ON stories (id) WHERE relevant IS NULL;
