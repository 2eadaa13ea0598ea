-- History: every reading, partitioned by month of ts (partitions are created as data arrives),
-- and each device's latest reading.
CREATE TABLE readings (
    device_id TEXT NOT NULL,
    ts BIGINT NOT NULL,
    category TEXT NOT NULL,
    connector TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (device_id, ts)
) PARTITION BY RANGE (ts);

CREATE INDEX readings_time ON readings (ts);
CREATE INDEX readings_category_time ON readings (category, ts);
CREATE INDEX readings_connector_time ON readings (connector, ts);

CREATE TABLE latest_readings (
    device_id TEXT PRIMARY KEY,
    ts BIGINT NOT NULL,
    category TEXT NOT NULL,
    connector TEXT NOT NULL,
    payload TEXT NOT NULL
);
