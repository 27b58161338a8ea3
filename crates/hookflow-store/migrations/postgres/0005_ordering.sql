-- Ordering by key: an execution job of an ordering group waits while an earlier
-- job of its group is queued or running. This finds that earlier job.
CREATE INDEX jobs_group_active ON jobs (group_key, id)
    WHERE group_key IS NOT NULL AND state IN ('queued', 'running');
