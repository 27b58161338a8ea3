-- Outbound event webhooks (PostgreSQL).
CREATE TABLE subscriptions (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    event_types TEXT NOT NULL,
    connector_ids TEXT NOT NULL,
    headers TEXT NOT NULL,
    extra_fields TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_until BIGINT,
    disabled_reason TEXT,
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscriptions_workspace ON subscriptions (workspace_id, id);

CREATE TABLE messages (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    connector_id TEXT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE deliveries (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id);

CREATE TABLE delivery_attempts (
    delivery_id TEXT COLLATE "C" NOT NULL,
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status_code BIGINT,
    latency_ms BIGINT,
    response_headers TEXT NOT NULL,
    response_body TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);

ALTER TABLE jobs ADD COLUMN group_key TEXT;
CREATE INDEX jobs_group_running ON jobs (group_key) WHERE state = 'running';
