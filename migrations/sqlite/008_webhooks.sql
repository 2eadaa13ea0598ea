-- Webhooks: HTTP endpoints that receive events, signed with a secret of their own.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    filter TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- Whose view of the devices it gets: the owner's, or every device (admins, services).
    owner_id TEXT,
    sees_everything INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    status TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    last_error TEXT,
    last_failure_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE INDEX webhooks_created_by ON webhooks (created_by);
