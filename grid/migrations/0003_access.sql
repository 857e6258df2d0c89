-- WarmGrid schema, version 3: sign-in state of users, and idempotent form submissions.

ALTER TABLE users ADD COLUMN failed_logins INTEGER DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TIMESTAMP;
ALTER TABLE users ADD COLUMN last_login TIMESTAMP;
ALTER TABLE users ADD COLUMN display_name TEXT;

-- A form (a visit log, a need) carries a key made when the form is shown; a
-- second submission of the same key (a double tap, a resent form) finds it here
-- and creates nothing.
CREATE TABLE form_submissions (
    idempotency_key TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    username        TEXT,
    submitted_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
