-- WarmGrid schema, version 4: visit plans (who visits whom, in what order).

CREATE TABLE plans (
    plan_id         TEXT PRIMARY KEY,
    campaign_id     TEXT NOT NULL,
    area_code       TEXT NOT NULL,
    planning_date   DATE NOT NULL,
    min_per_visitor INTEGER CHECK (min_per_visitor IS NULL OR min_per_visitor >= 0),
    max_per_visitor INTEGER CHECK (max_per_visitor IS NULL OR max_per_visitor >= 1),
    total_m         DOUBLE CHECK (total_m IS NULL OR total_m >= 0),
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by      TEXT,
    CHECK (min_per_visitor IS NULL OR max_per_visitor IS NULL OR min_per_visitor <= max_per_visitor)
);

CREATE TABLE plan_visitors (
    plan_id    TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    start_geom GEOMETRY,                 -- where the walk starts (office, 党群服务站)
    households INTEGER NOT NULL CHECK (households >= 0),
    route_m    DOUBLE CHECK (route_m IS NULL OR route_m >= 0),
    PRIMARY KEY (plan_id, visitor_id)
);

CREATE TABLE plan_items (
    plan_id    TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    hh_id      TEXT NOT NULL,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    leg_m      DOUBLE CHECK (leg_m IS NULL OR leg_m >= 0),
    PRIMARY KEY (plan_id, hh_id)
);
