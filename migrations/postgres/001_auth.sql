-- Auth: signing keys, revoked tokens, authorization rules.
CREATE TABLE auth_signing_keys (
    kid TEXT PRIMARY KEY,
    private_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE auth_revoked_tokens (
    token_id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE auth_rules (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    rules TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
