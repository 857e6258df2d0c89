-- WarmGrid schema, version 1.
-- Placeholders in braces, e.g. {HARDSHIP_LIST}, are filled from grid/model.py by
-- grid/store.py, so the vocabularies have one source. Geometries are WGS84
-- (EPSG:4326, x = longitude). Columns marked "derived" are recomputed by
-- Store.refresh_derived() whenever their inputs change; never type them in.
-- Foreign keys are checked by the importers rather than declared: DuckDB
-- cannot update a row that a foreign key references.
-- A vocabulary that a later version changes is written out here as version 1 had it
-- (needs.status: migration 7 rebuilds the table with grid.model.NEED_STATUSES).

CREATE TABLE warmgrid_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE admin_units (
    code        TEXT PRIMARY KEY CHECK (regexp_full_match(code, '[0-9]{12}')),
    name        TEXT NOT NULL CHECK (length(trim(name)) > 0),
    level       TEXT NOT NULL CHECK (level IN {ADMIN_LEVELS}),
    parent_code TEXT CHECK (parent_code IS NULL OR regexp_full_match(parent_code, '[0-9]{12}')),
    geom        GEOMETRY CHECK (geom IS NULL OR ST_GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON')),
    CHECK ((level = 'district') = (parent_code IS NULL))
);

CREATE TABLE people (
    person_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL CHECK (length(trim(name)) > 0),
    role       TEXT NOT NULL CHECK (role IN {PERSON_ROLES}),
    unit_code  TEXT,
    phone      TEXT,
    geom       GEOMETRY CHECK (geom IS NULL OR ST_GeometryType(geom) = 'POINT'),  -- starting point (office)
    active     BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE cells (
    cell_id           TEXT PRIMARY KEY CHECK (regexp_full_match(cell_id, '[0-9]{13,18}')),
    name              TEXT NOT NULL,
    community_code    TEXT NOT NULL CHECK (regexp_full_match(community_code, '[0-9]{12}')),
    geom              GEOMETRY NOT NULL CHECK (ST_GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON') AND NOT ST_IsEmpty(geom)),
    warden_id         TEXT,
    area_m2           DOUBLE,                                             -- derived
    CHECK (starts_with(cell_id, community_code))
);

CREATE TABLE households (
    hh_id       TEXT PRIMARY KEY,
    geom        GEOMETRY NOT NULL CHECK (ST_GeometryType(geom) = 'POINT'
                                         AND ST_X(geom) BETWEEN -180 AND 180
                                         AND ST_Y(geom) BETWEEN -90 AND 90),
    cell_id     TEXT,                                                     -- derived
    address     TEXT NOT NULL,
    size        INTEGER NOT NULL CHECK (size BETWEEN 1 AND 50),
    categories  TEXT[] NOT NULL DEFAULT [] CHECK (list_has_all({HARDSHIP_LIST}, categories)),
    head_name   TEXT,
    id_number   TEXT CHECK (id_number IS NULL OR regexp_full_match(id_number, '[0-9]{17}[0-9X]')),
    phone       TEXT,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN {HOUSEHOLD_STATUSES}),
    updated_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    x_m         DOUBLE,                                                   -- derived: metric easting
    y_m         DOUBLE                                                    -- derived: metric northing
);

CREATE TABLE stations (
    station_id     TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    type           TEXT NOT NULL CHECK (type IN {STATION_TYPES}),
    geom           GEOMETRY NOT NULL CHECK (ST_GeometryType(geom) = 'POINT'),
    radius_m       DOUBLE NOT NULL CHECK (radius_m > 0 AND isfinite(radius_m)),
    capacity       INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    community_code TEXT,
    x_m            DOUBLE,                                                -- derived
    y_m            DOUBLE                                                 -- derived
);

CREATE TABLE patrol_areas (
    area_id  TEXT PRIMARY KEY,
    team     TEXT NOT NULL,
    kind     TEXT NOT NULL DEFAULT 'volunteer_patrol' CHECK (kind IN {PATROL_KINDS}),
    geom     GEOMETRY NOT NULL CHECK (ST_GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON') AND NOT ST_IsEmpty(geom)),
    members  INTEGER CHECK (members IS NULL OR members >= 0),
    community_code TEXT
);

CREATE TABLE campaigns (
    campaign_id       TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    unit_code         TEXT NOT NULL,
    starts_on         DATE NOT NULL,
    ends_on           DATE NOT NULL,
    target_categories TEXT[] NOT NULL DEFAULT [] CHECK (list_has_all({HARDSHIP_LIST}, target_categories)),
    budget_yuan       DECIMAL(14, 2) CHECK (budget_yuan IS NULL OR budget_yuan >= 0),
    CHECK (ends_on >= starts_on)
);

CREATE TABLE pairings (
    pairing_id  TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL,
    hh_id       TEXT NOT NULL,
    campaign_id TEXT,
    starts_on   DATE NOT NULL,
    ends_on     DATE,
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);

CREATE TABLE visits (
    visit_id    TEXT PRIMARY KEY,
    hh_id       TEXT NOT NULL,
    visitor_id  TEXT,
    campaign_id TEXT,
    visited_at  TIMESTAMP NOT NULL CHECK (visited_at >= TIMESTAMP '2000-01-01'),
    place       TEXT,
    situation   TEXT,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE needs (
    need_id     TEXT PRIMARY KEY,
    hh_id       TEXT NOT NULL,
    visit_id    TEXT,
    raised_at   TIMESTAMP NOT NULL CHECK (raised_at >= TIMESTAMP '2000-01-01'),
    resolved_at TIMESTAMP,
    category    TEXT NOT NULL CHECK (category IN {NEED_CATEGORIES}),
    description TEXT,
    status      TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'answered')),  -- v1's vocabulary
    CHECK (resolved_at IS NULL OR resolved_at >= raised_at),
    CHECK ((status = 'open') = (resolved_at IS NULL))
);

CREATE TABLE assistance (
    aid_id           TEXT PRIMARY KEY,
    hh_id            TEXT NOT NULL,
    campaign_id      TEXT,
    programme        TEXT NOT NULL,
    kind             TEXT NOT NULL DEFAULT 'cash' CHECK (kind IN {AID_KINDS}),
    amount_yuan      DECIMAL(12, 2) NOT NULL DEFAULT 0 CHECK (amount_yuan >= 0),
    items            TEXT,
    goods_value_yuan DECIMAL(12, 2) NOT NULL DEFAULT 0 CHECK (goods_value_yuan >= 0),
    given_at         TIMESTAMP NOT NULL CHECK (given_at >= TIMESTAMP '2000-01-01'),
    giver_unit       TEXT NOT NULL,
    funding_source   TEXT
);

CREATE TABLE users (
    user_id        TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL CHECK (role IN {USER_ROLES}),
    scope          TEXT[] NOT NULL DEFAULT [],
    password_hash  TEXT,
    person_id      TEXT,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE audit_log_seq;
CREATE TABLE audit_log (
    log_id     BIGINT PRIMARY KEY DEFAULT nextval('audit_log_seq'),
    logged_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    username   TEXT,
    role       TEXT,
    action     TEXT NOT NULL,
    object     TEXT,
    scope      TEXT[],
    row_count  INTEGER CHECK (row_count IS NULL OR row_count >= 0)
);
