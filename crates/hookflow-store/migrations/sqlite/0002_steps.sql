-- The execution journal and workspace data storage (SQLite).
ALTER TABLE executions ADD COLUMN started_at BIGINT;

CREATE TABLE execution_steps (
    execution_id TEXT NOT NULL,
    step_key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    step_id TEXT NOT NULL,
    step_type TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    error TEXT,
    missing TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    PRIMARY KEY (execution_id, step_key)
);

CREATE TABLE storage (
    workspace_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

CREATE INDEX executions_unfinished ON executions (connector_id, config_version) WHERE finished_at IS NULL;
