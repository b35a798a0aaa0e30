-- FirmaLOM integration (Art. 6). Portable types (TEXT ids, RFC 3339 UTC text instants with six
-- fractional digits, which sort as text) so the same statements run on PostgreSQL and SQLite.

-- One notification per ConfirmationRequested / ConfirmationResent event, created from the event
-- log in the same transaction that moves the feeder's checkpoint: the log is the outbox, so a
-- notification can be neither lost nor created twice.
CREATE TABLE firmalom_outbox (
    notification_id  TEXT PRIMARY KEY,          -- the id of the event that asked for it
    case_id          TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    kind             TEXT NOT NULL,             -- confirmation_requested | confirmation_resent
    payload          TEXT NOT NULL,             -- the JSON body sent, frozen at request time
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    locked_until     TEXT,
    delivered_at     TEXT,                      -- when FirmaLOM acknowledged it (2xx)
    closed_at        TEXT,                      -- delivered, or not sent because the request ended
    outcome          TEXT                       -- delivered | request_ended
);
CREATE INDEX firmalom_outbox_due ON firmalom_outbox (next_attempt_at) WHERE closed_at IS NULL;

-- Every delivery attempt and its outcome: what an auditor reads to see when the recipient was
-- notified.
CREATE TABLE firmalom_delivery_attempts (
    notification_id  TEXT NOT NULL REFERENCES firmalom_outbox (notification_id),
    attempt          INTEGER NOT NULL,
    attempted_at     TEXT NOT NULL,
    http_status      INTEGER,
    outcome          TEXT NOT NULL,             -- delivered | failed | request_ended
    error            TEXT,
    PRIMARY KEY (notification_id, attempt)
);

CREATE TABLE firmalom_feed_checkpoint (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    last_transaction  BIGINT NOT NULL,
    last_position     BIGINT NOT NULL
);
INSERT INTO firmalom_feed_checkpoint (id, last_transaction, last_position) VALUES (1, 0, 0);

-- Callbacks received (replay protection: one answer per delivery id).
CREATE TABLE firmalom_callbacks (
    delivery_id  TEXT PRIMARY KEY,
    received_at  TEXT NOT NULL,
    case_id      TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    http_status  INTEGER NOT NULL
);
