-- Crash-loop protection: how many times a job's lease expired while a node ran it (the node was
-- killed, crashed or stopped answering). An execution reclaimed too often is failed, not run again.
ALTER TABLE jobs ADD COLUMN reclaims BIGINT NOT NULL DEFAULT 0;
