-- Connector URL tokens at rest: ingest finds a connector by the SHA-256 of its token, and the
-- token column holds the token sealed with the store's key (filled in by the store at start for
-- rows written before this migration).
ALTER TABLE connectors ADD COLUMN token_hash TEXT;
CREATE UNIQUE INDEX connectors_token_hash ON connectors (token_hash);
