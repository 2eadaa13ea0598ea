-- Devices: the registry, with R*Trees over (lat, lon) for "near" queries: one over every device
-- and one per category (device_locations_c<code>, created with the category), so "parking near
-- here" never walks other categories' points.
CREATE TABLE devices (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner_id TEXT NOT NULL,
    category TEXT NOT NULL,
    connector TEXT NOT NULL,
    nickname TEXT,
    is_public INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    lat REAL,
    lon REAL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX devices_category ON devices (category, id);
CREATE INDEX devices_connector ON devices (connector, id);
CREATE INDEX devices_owner ON devices (owner_id, id);

CREATE TABLE device_categories (
    code INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- Auxiliary columns carry what a "near" query filters and measures by, so it reads only the tree.
CREATE VIRTUAL TABLE device_locations USING rtree(rid, min_lat, max_lat, min_lon, max_lon, +id, +lat, +lon, +connector, +owner_id, +is_public);
