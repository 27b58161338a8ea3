-- The workspace secret store: values referenced from documents as {{ secrets.NAME }}, written
-- once and never shown again, sealed with the store's key (value holds the sealed text).
CREATE TABLE secrets (
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
