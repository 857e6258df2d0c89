-- WarmGrid schema, version 10: the standard-address register (一标三实) and where each household's
-- point came from. Households that come with an address and no coordinates are placed through the
-- register, offline (grid/geocode.py matches, grid/locate.py applies it to an import).
-- Placeholders in braces are filled from grid/model.py by grid/store.py, as in schema.sql.

-- 标准地址: one row per 小区, 门牌, 楼栋 or 单元, usually with a point (WGS84). ``parent_id`` is the
-- entry it lies in (a building's estate); ``community_code`` the 12-digit community it belongs to.
CREATE TABLE addresses (
    addr_id        TEXT PRIMARY KEY CHECK (length(trim(addr_id)) > 0),
    address        TEXT NOT NULL CHECK (length(trim(address)) > 0),
    geom           GEOMETRY CHECK (geom IS NULL OR (ST_GeometryType(geom) = 'POINT'
                                                    AND ST_X(geom) BETWEEN -180 AND 180
                                                    AND ST_Y(geom) BETWEEN -90 AND 90)),
    level          TEXT CHECK (level IS NULL OR level IN {ADDRESS_LEVELS}),
    parent_id      TEXT,
    community_code TEXT CHECK (community_code IS NULL OR regexp_full_match(community_code, '[0-9]{12}'))
);

-- DuckDB cannot add a column with a constraint: the importer checks the method against
-- grid.model.GEOCODE_METHODS and the score's range (0-100). Every stored point so far came from
-- its file's coordinates.
ALTER TABLE households ADD COLUMN geocode_method TEXT DEFAULT 'coordinates';
ALTER TABLE households ADD COLUMN addr_id TEXT;
ALTER TABLE households ADD COLUMN geocode_score DOUBLE;
UPDATE households SET geocode_method = 'coordinates' WHERE geocode_method IS NULL;
