-- WarmGrid schema, version 8: assistance by application (逐级申请报批).
-- An application is checked by the community, reviewed by the street, posted on public notice
-- (公示) and approved by the district before the assistance is given with a receipt; every step
-- is one row of application_events. Programmes carry their standard amount, target categories
-- and whether they need an application; budgets are per unit, programme and campaign. The
-- assistance table gains the application it came from and who received it (diversion checks).
-- Placeholders in braces are filled from grid/model.py by grid/store.py, as in schema.sql.
-- This migration depends on no table of migration 7.

-- 救助项目. ``code`` is what applications and budgets name; ``name`` is what assistance records
-- carry in their free-text ``programme`` column (matched after NFKC normalisation).
CREATE TABLE programmes (
    code              TEXT PRIMARY KEY CHECK (regexp_full_match(code, '[A-Za-z0-9_.-]{1,32}')),
    name              TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    kind              TEXT NOT NULL DEFAULT 'cash' CHECK (kind IN {AID_KINDS}),
    standard_yuan     DECIMAL(12, 2) CHECK (standard_yuan IS NULL OR standard_yuan > 0),  -- the most per application
    target_categories TEXT[] NOT NULL DEFAULT [] CHECK (list_has_all({HARDSHIP_LIST}, target_categories)),
    needs_approval    BOOLEAN NOT NULL DEFAULT TRUE,
    approval_from     DATE,          -- assistance given before this date needed no application (NULL: always)
    notice_days       INTEGER NOT NULL DEFAULT 7 CHECK (notice_days BETWEEN 1 AND 60),
    description       TEXT
);

-- 预算: a ceiling on what the households of a unit (district, street or community) receive from a
-- programme in a campaign (campaign_id NULL: the programme's assistance outside any campaign). A gift
-- counts against every budget of the units above its household's community. One row per (unit,
-- programme, campaign): grid.applications.set_budget replaces a row.
CREATE TABLE budgets (
    unit_code   TEXT NOT NULL CHECK (regexp_full_match(unit_code, '[0-9]{12}')),
    programme   TEXT NOT NULL,
    campaign_id TEXT,
    amount_yuan DECIMAL(14, 2) NOT NULL CHECK (amount_yuan >= 0),
    set_at      TIMESTAMP NOT NULL,
    set_by      TEXT
);

-- 救助申请. ``unit_code`` is the household's community when it applied; the notice dates and
-- contact are set by the notice step; ``decided_at`` by approval or rejection.
CREATE TABLE applications (
    app_id           TEXT PRIMARY KEY,
    hh_id            TEXT NOT NULL,
    programme        TEXT NOT NULL,
    campaign_id      TEXT,
    unit_code        TEXT NOT NULL CHECK (regexp_full_match(unit_code, '[0-9]{12}')),
    amount_yuan      DECIMAL(12, 2) NOT NULL CHECK (amount_yuan > 0),
    items            TEXT,
    reason           TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'applied' CHECK (status IN {APPLICATION_STATUSES}),
    applied_at       TIMESTAMP NOT NULL CHECK (applied_at >= TIMESTAMP '2000-01-01'),
    applied_by       TEXT NOT NULL,
    notice_starts_on DATE,
    notice_ends_on   DATE,
    notice_contact   TEXT,
    decided_at       TIMESTAMP,
    given_at         TIMESTAMP,
    receipt_ref      TEXT,
    rejected_reason  TEXT,
    CHECK (notice_ends_on IS NULL OR notice_ends_on >= notice_starts_on),
    CHECK ((notice_starts_on IS NULL) = (notice_ends_on IS NULL)),
    CHECK ((status IN ('applied', 'community_checked', 'street_reviewed')) OR notice_starts_on IS NOT NULL
           OR status = 'rejected'),
    CHECK ((status IN ('approved', 'given', 'rejected')) = (decided_at IS NOT NULL)),
    CHECK ((status = 'given') = (given_at IS NOT NULL)),
    CHECK (status <> 'given' OR receipt_ref IS NOT NULL),
    CHECK (status <> 'rejected' OR rejected_reason IS NOT NULL)
);

-- Every step of every application: who, when, from which state to which, and the note.
-- ``seq`` numbers an application's steps from 1; ``event_id`` is ``app_id:seq``.
CREATE TABLE application_events (
    event_id    TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    "at"        TIMESTAMP NOT NULL,  -- quoted: AT is a keyword in DuckDB
    by_user     TEXT NOT NULL,
    step        TEXT NOT NULL CHECK (step IN {APPLICATION_STEPS}),
    from_status TEXT CHECK (from_status IS NULL OR from_status IN {APPLICATION_STATUSES}),
    to_status   TEXT NOT NULL CHECK (to_status IN {APPLICATION_STATUSES}),
    note        TEXT,
    UNIQUE (app_id, seq)
);

-- 公示异议: recorded while an application is on notice; each must be settled (dismissed, or
-- upheld: the application is then rejected) before the district may approve it.
CREATE TABLE application_objections (
    objection_id TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL,
    raised_at    TIMESTAMP NOT NULL,
    recorded_by  TEXT NOT NULL,
    objector     TEXT,
    content      TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN {OBJECTION_STATUSES}),
    settled_at   TIMESTAMP,
    settled_by   TEXT,
    settlement   TEXT,
    CHECK ((status = 'open') = (settled_at IS NULL)),
    CHECK (settled_at IS NULL OR settled_at >= raised_at)
);

-- Assistance: the application it was given on (NULL: recorded directly, as before), and who
-- received it (领款人 / 签收): the name, phone and bank account on the receipt, and its reference.
ALTER TABLE assistance ADD COLUMN app_id TEXT;
ALTER TABLE assistance ADD COLUMN receiver_name TEXT;
ALTER TABLE assistance ADD COLUMN receiver_phone TEXT;
ALTER TABLE assistance ADD COLUMN receiver_account TEXT;
ALTER TABLE assistance ADD COLUMN receipt_ref TEXT;
