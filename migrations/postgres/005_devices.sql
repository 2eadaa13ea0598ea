-- Devices: the registry, with a PostGIS geography point under a GiST index for "near" queries.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE devices (
    rid BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    category TEXT NOT NULL,
    connector TEXT NOT NULL,
    nickname TEXT,
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    metadata TEXT NOT NULL DEFAULT '{}',
    lat DOUBLE PRECISION,
    lon DOUBLE PRECISION,
    location geography(Point, 4326),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX devices_category ON devices (category, id);
CREATE INDEX devices_connector ON devices (connector, id);
CREATE INDEX devices_owner ON devices (owner_id, id);
CREATE INDEX devices_location ON devices USING GIST (location);
-- "Parking nearest to here": a nearest-neighbour scan of one category's points.
CREATE INDEX devices_category_location ON devices USING GIST (category, location);
