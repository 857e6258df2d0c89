-- WarmGrid schema, version 7: needs as a flow (事件流转).
-- Placeholders in braces are filled from grid/model.py, as in schema.sql.
--
-- needs keeps every column and name and gains:
--   unit_code    the unit that holds it: a community code (社区), a street code (街道), a cell id
--                (its warden) or a department (grid.model.DEPARTMENTS); NULL when raised or returned
--   assigned_at  when the current unit got it (NULL when raised or returned)
--   due_at       the last second of its due day (NULL when raised or returned)
--   satisfaction the follow-up's satisfaction (grid.model.SATISFACTION), exactly when closed
--   closed_at    when the warden's follow-up closed it, exactly when closed
--   escalated_at when it last passed its due date unsettled and went up to the street (升级)
-- resolved_at is set exactly when it is resolved, answered or closed (kept after closing).
-- status takes grid.model.NEED_STATUSES: raised, assigned, in_progress, resolved, answered,
-- closed, returned. Escalation is a flag and an event, not a state.
--
-- Existing rows: 'open' becomes 'raised' (no unit was ever recorded: they wait in the street
-- committee's queue to be assigned); 'resolved' and 'answered' stay, with their resolved_at, and
-- wait for the follow-up. Every existing need gets a 'migrate' event at raised_at, and a settled
-- one a second at resolved_at, so need_events holds every need's history from the start.

CREATE TABLE needs_v7 (
    need_id      TEXT PRIMARY KEY,
    hh_id        TEXT NOT NULL,
    visit_id     TEXT,
    raised_at    TIMESTAMP NOT NULL CHECK (raised_at >= TIMESTAMP '2000-01-01'),
    resolved_at  TIMESTAMP,
    category     TEXT NOT NULL CHECK (category IN {NEED_CATEGORIES}),
    description  TEXT,
    status       TEXT NOT NULL DEFAULT 'raised' CHECK (status IN {NEED_STATUSES}),
    unit_code    TEXT CHECK (unit_code IS NULL OR length(trim(unit_code)) > 0),
    assigned_at  TIMESTAMP,
    due_at       TIMESTAMP,
    satisfaction TEXT CHECK (satisfaction IS NULL OR satisfaction IN {SATISFACTION}),
    closed_at    TIMESTAMP,
    escalated_at TIMESTAMP,
    CHECK (resolved_at IS NULL OR resolved_at >= raised_at),
    CHECK ((status IN ('resolved', 'answered', 'closed')) = (resolved_at IS NOT NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
    CHECK ((status = 'closed') = (satisfaction IS NOT NULL)),
    CHECK (closed_at IS NULL OR closed_at >= resolved_at),
    CHECK (status NOT IN ('assigned', 'in_progress')
           OR (unit_code IS NOT NULL AND assigned_at IS NOT NULL AND due_at IS NOT NULL)),
    CHECK (status NOT IN ('raised', 'returned') OR (unit_code IS NULL AND assigned_at IS NULL AND due_at IS NULL)),
    CHECK (assigned_at IS NULL OR assigned_at >= raised_at),
    CHECK ((assigned_at IS NULL) = (due_at IS NULL)),
    CHECK (due_at IS NULL OR due_at >= assigned_at)
);
INSERT INTO needs_v7 (need_id, hh_id, visit_id, raised_at, resolved_at, category, description, status)
SELECT need_id, hh_id, visit_id, raised_at, resolved_at, category, description,
       CASE status WHEN 'open' THEN 'raised' ELSE status END
FROM needs;
DROP TABLE needs;
ALTER TABLE needs_v7 RENAME TO needs;

-- Every step a need takes, one row each: from_status -> to_status (the same for a note, a photo or
-- an escalation), who (a username; cli:NAME for the command line) and when. "at" is a reserved
-- word in DuckDB: write it "at" (or e.at) in SQL.
CREATE SEQUENCE need_events_seq;
CREATE TABLE need_events (
    event_id    BIGINT PRIMARY KEY DEFAULT nextval('need_events_seq'),
    need_id     TEXT NOT NULL,
    "at"        TIMESTAMP NOT NULL,
    by_user     TEXT,
    from_status TEXT CHECK (from_status IS NULL OR from_status IN {NEED_STATUSES}),
    to_status   TEXT NOT NULL CHECK (to_status IN {NEED_STATUSES}),
    note        TEXT,
    step        TEXT NOT NULL CHECK (step IN {NEED_STEPS}),
    unit_code   TEXT  -- the unit holding the need after the step
);
INSERT INTO need_events (need_id, "at", by_user, from_status, to_status, note, step)
SELECT need_id, raised_at, 'migration', NULL, 'raised', '第7版之前登记的诉求 · raised before version 7', 'migrate'
FROM needs ORDER BY raised_at, need_id;
INSERT INTO need_events (need_id, "at", by_user, from_status, to_status, note, step)
SELECT need_id, resolved_at, 'migration', 'raised', status, '第7版之前已办结 · settled before version 7', 'migrate'
FROM needs WHERE resolved_at IS NOT NULL ORDER BY resolved_at, need_id;

-- Photos taken while handling a need (or when raising it): JPEG, PNG or WebP by their magic bytes,
-- at most WARMGRID_MAX_PHOTO_MB each; shown only to those who may open the household's card.
CREATE TABLE need_photos (
    photo_id   TEXT PRIMARY KEY,
    need_id    TEXT NOT NULL,
    event_id   BIGINT NOT NULL,
    added_at   TIMESTAMP NOT NULL,
    added_by   TEXT,
    mime_type  TEXT NOT NULL CHECK (mime_type IN ('image/jpeg', 'image/png', 'image/webp')),
    size_bytes INTEGER NOT NULL CHECK (size_bytes > 0),
    sha256     TEXT NOT NULL CHECK (regexp_full_match(sha256, '[0-9a-f]{64}')),
    data       BLOB NOT NULL CHECK (octet_length(data) = size_bytes)
);

-- The time limit of each need category, in working days (Monday to Friday) from the day of assignment.
CREATE TABLE need_time_limits (
    category     TEXT PRIMARY KEY CHECK (category IN {NEED_CATEGORIES}),
    working_days INTEGER NOT NULL CHECK (working_days BETWEEN 1 AND 250),
    updated_at   TIMESTAMP,  -- NULL for the defaults
    updated_by   TEXT
);
INSERT INTO need_time_limits (category, working_days, updated_by) VALUES {NEED_TIME_LIMIT_ROWS};
