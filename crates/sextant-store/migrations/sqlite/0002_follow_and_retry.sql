-- Identical jobs follow one computation, and transient failures are retried after a pause.
ALTER TABLE jobs ADD COLUMN follows TEXT;      -- the job (same cache key) this one waits for
ALTER TABLE jobs ADD COLUMN retry_at INTEGER;  -- a queued retry starts no sooner (Unix ms)
CREATE INDEX jobs_follows ON jobs(follows);
CREATE INDEX jobs_cache_key ON jobs(cache_key, state);
