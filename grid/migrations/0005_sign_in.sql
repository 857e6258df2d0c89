-- WarmGrid schema, version 5: sign-in throttled per user and client address, and the
-- client address of sign-in attempts in the audit log.

ALTER TABLE audit_log ADD COLUMN client TEXT;

-- One row per (lower-cased username, client address) that has tried to sign in.
-- ``failures`` counts wrong passwords since the last success from that address;
-- every ``ROUND`` of them blocks the address for a growing delay (``blocked_until``),
-- and after ``LOCK_ROUNDS`` rounds for the lock-out time. ``succeeded_at`` marks an
-- address the user has signed in from: it is not slowed by failures from elsewhere.
CREATE TABLE login_throttle (
    username      TEXT NOT NULL,
    client        TEXT NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    rounds        INTEGER NOT NULL DEFAULT 0,
    blocked_until TIMESTAMP,
    last_failure  TIMESTAMP,
    succeeded_at  TIMESTAMP,
    PRIMARY KEY (username, client)
);
