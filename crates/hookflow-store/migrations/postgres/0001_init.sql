-- Foundation schema (PostgreSQL). Times are Unix milliseconds; JSON is TEXT;
-- flags are 0/1 integers so one SQL text serves both databases.
CREATE TABLE workspaces (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE connectors (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    event_source TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    structure TEXT,
    sample_custom_variables TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX connectors_workspace ON connectors (workspace_id, id);

CREATE TABLE connector_versions (
    connector_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (connector_id, version)
);

CREATE TABLE connector_stats (
    connector_id TEXT PRIMARY KEY,
    received BIGINT NOT NULL DEFAULT 0,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    filtered BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    r_received BIGINT NOT NULL DEFAULT 0,
    r_succeeded BIGINT NOT NULL DEFAULT 0,
    r_failed BIGINT NOT NULL DEFAULT 0,
    r_filtered BIGINT NOT NULL DEFAULT 0,
    r_rejected BIGINT NOT NULL DEFAULT 0,
    reset_at BIGINT
);

CREATE TABLE events (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    config_version BIGINT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    headers TEXT NOT NULL,
    content_type TEXT,
    body BYTEA NOT NULL,
    parsed TEXT NOT NULL,
    error TEXT,
    execution_id TEXT
);
CREATE INDEX events_connector ON events (connector_id, id);
CREATE INDEX events_connector_status ON events (connector_id, status, id);
CREATE INDEX events_execution ON events (execution_id);

CREATE TABLE executions (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    connector_id TEXT NOT NULL,
    config_version BIGINT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX executions_event ON executions (event_id);

CREATE TABLE jobs (
    id TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    state TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_target ON jobs (target_id);
