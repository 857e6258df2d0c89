-- WarmGrid schema, version 7: the members of each household (一户一档).
-- One row per person of a household, the head included; the ID number is checked (GB 11643)
-- by the importer, and the birth year must agree with it.
CREATE TABLE members (
    member_id   TEXT PRIMARY KEY,
    hh_id       TEXT NOT NULL,
    name        TEXT NOT NULL CHECK (length(trim(name)) > 0),
    relation    TEXT NOT NULL CHECK (relation IN {RELATIONS}),
    id_number   TEXT,
    birth_year  INTEGER CHECK (birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100),
    disability  TEXT CHECK (disability IS NULL OR disability IN {DISABILITY_GRADES}),
    phone       TEXT
);
CREATE INDEX members_hh ON members (hh_id);
