-- The contact book, members, channels, workspace settings (PostgreSQL).
ALTER TABLE workspaces ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE workspaces ADD COLUMN default_country TEXT;

CREATE TABLE members (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace_id, email)
);

CREATE TABLE contacts (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    mobile TEXT,
    email TEXT,
    channel_id TEXT,
    owner_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_mobile ON contacts (workspace_id, mobile) WHERE mobile IS NOT NULL;
CREATE INDEX contacts_email ON contacts (workspace_id, email, id);
CREATE INDEX contacts_workspace ON contacts (workspace_id, id);

CREATE TABLE contact_attributes (
    contact_id TEXT COLLATE "C" NOT NULL,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (contact_id, name)
);
CREATE INDEX contact_attributes_lookup ON contact_attributes (workspace_id, name, text);

CREATE TABLE contact_tags (
    contact_id TEXT COLLATE "C" NOT NULL,
    workspace_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
CREATE INDEX contact_tags_lookup ON contact_tags (workspace_id, tag, contact_id);

CREATE TABLE attribute_definitions (
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE channels (
    id TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    settings TEXT NOT NULL,
    credentials TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX channels_workspace ON channels (workspace_id, id);

ALTER TABLE execution_steps ADD COLUMN attempt_log TEXT NOT NULL DEFAULT '[]';
