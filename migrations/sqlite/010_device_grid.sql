-- "Near" queries on SQLite are answered from memory (the Devices service's grid, loaded from
-- the devices table), so the R*Trees of 005 are no longer kept. Per-category trees created by
-- earlier versions (device_locations_c<code>) cannot be named in plain SQL; nothing reads or
-- writes them any more.
DROP TABLE device_locations;
DROP TABLE device_categories;
