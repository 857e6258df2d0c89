-- WarmGrid schema, version 2: household history (动态管理) and the import log.

CREATE TABLE household_history (
    hh_id      TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    change     TEXT NOT NULL CHECK (change IN ('added', 'categories', 'status')),
    old_value  TEXT,
    new_value  TEXT,
    source     TEXT
);

CREATE SEQUENCE imports_seq;
CREATE TABLE imports (
    import_id   BIGINT PRIMARY KEY DEFAULT nextval('imports_seq'),
    imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    kind        TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('insert', 'upsert')),
    crs         TEXT NOT NULL,
    rows_read   INTEGER NOT NULL CHECK (rows_read >= 0),
    inserted    INTEGER NOT NULL CHECK (inserted >= 0),
    updated     INTEGER NOT NULL CHECK (updated >= 0),
    unchanged   INTEGER NOT NULL CHECK (unchanged >= 0),
    username    TEXT
);
