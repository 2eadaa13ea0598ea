-- Persistence: the data sources the scheduler polls, their configuration and their last run.
CREATE TABLE persistence_sources (
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    -- 'file' for sources declared in connectors/, 'api' for those added over REST.
    origin TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
