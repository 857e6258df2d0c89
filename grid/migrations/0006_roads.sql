-- WarmGrid schema, version 6: the street network (roads).
-- Connectivity is exactly shared vertices: two lines are connected where, and only
-- where, they have a vertex at the same coordinates. The importer (grid/roads.py)
-- makes it so: it inserts the crossing vertex into both lines where they cross at
-- grade, and leaves lines on different levels (bridges, tunnels) uncrossed.
-- Coordinates are kept to 1e-7 degrees (about 1 cm), as OpenStreetMap stores them.

CREATE TABLE roads (
    road_id  TEXT PRIMARY KEY CHECK (length(trim(road_id)) > 0),
    geom     GEOMETRY NOT NULL CHECK (ST_GeometryType(geom) = 'LINESTRING' AND NOT ST_IsEmpty(geom)),  -- WGS84
    kind     TEXT,                      -- e.g. OSM highway=* (residential, footway, ...) or 主干道
    name     TEXT,
    walkable BOOLEAN NOT NULL,          -- part of the walking network
    layer    SMALLINT NOT NULL DEFAULT 0  -- level: 0 at grade, > 0 bridges, < 0 tunnels (noding only)
);
