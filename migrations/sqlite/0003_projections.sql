-- Read models (projections) built from the global event log; documented in docs/projections.md.
-- Every rm_* table is derived data: `diario rebuild` truncates it and replays the log.
-- SQLite flavour: identifiers, instants (RFC 3339, UTC, microseconds), dates (YYYY-MM-DD) and
-- JSON are stored as text; booleans as 0/1.

-- One row per projection: the last applied global position, i.e. the pair
-- position (transaction_id is always 0 on SQLite). Moved in the same transaction as the
-- read-model writes.
CREATE TABLE projection_checkpoints (
    projection      TEXT PRIMARY KEY,
    transaction_id  INTEGER NOT NULL DEFAULT 0,
    position        INTEGER NOT NULL DEFAULT 0,
    events_applied  INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Projection "case_diaries" ------------------------------------------------------------------

CREATE TABLE rm_cases (
    case_id                TEXT PRIMARY KEY,
    measure_id             TEXT NOT NULL,
    ats                    TEXT NOT NULL,
    asst                   TEXT NOT NULL,
    provider               TEXT NOT NULL,
    status                 TEXT NOT NULL,
    recipient_pseudonym    TEXT NOT NULL,
    recipient_minor        INTEGER NOT NULL,
    firmalom_enrolled      INTEGER NOT NULL,
    responsabile_asst      TEXT NOT NULL,
    responsabile_provider  TEXT NOT NULL,
    case_manager           TEXT NOT NULL,
    opened_at              TEXT NOT NULL,
    interrupted_at         TEXT,
    last_entry_at          TEXT,
    last_entry_date        TEXT,
    minutes                INTEGER NOT NULL,
    confirmed_minutes      INTEGER NOT NULL,
    confirmed_cost_cents   INTEGER NOT NULL,
    version                INTEGER NOT NULL,
    last_event_at          TEXT NOT NULL
);
CREATE INDEX rm_cases_ats ON rm_cases (ats, case_id);
CREATE INDEX rm_cases_provider ON rm_cases (provider, case_id);

CREATE TABLE rm_diaries (
    case_id               TEXT NOT NULL,
    phase                 INTEGER NOT NULL,
    ats                   TEXT NOT NULL,
    provider              TEXT NOT NULL,
    status                TEXT NOT NULL,
    opened_by             TEXT NOT NULL,
    opened_at             TEXT NOT NULL,
    entries               INTEGER NOT NULL,
    minutes               INTEGER NOT NULL,
    confirmed_minutes     INTEGER NOT NULL,
    confirmed_cost_cents  INTEGER NOT NULL,
    PRIMARY KEY (case_id, phase)
);
CREATE INDEX rm_diaries_ats ON rm_diaries (ats);

CREATE TABLE rm_entries (
    entry_id           TEXT PRIMARY KEY,
    case_id            TEXT NOT NULL,
    phase              INTEGER NOT NULL,
    ats                TEXT NOT NULL,
    provider           TEXT NOT NULL,
    professional       TEXT NOT NULL,
    figure             TEXT NOT NULL,
    service            TEXT NOT NULL,
    service_date       TEXT NOT NULL,
    start_time         TEXT NOT NULL,
    end_time           TEXT NOT NULL,
    minutes            INTEGER NOT NULL,
    state              TEXT NOT NULL,
    validated          INTEGER NOT NULL,
    revision           INTEGER NOT NULL,
    system_failure_id  TEXT,
    recorded_at        TEXT NOT NULL,
    request_id         TEXT,
    unit_cost_cents    INTEGER,
    cost_cents         INTEGER NOT NULL
);
CREATE INDEX rm_entries_case ON rm_entries (case_id, phase);
CREATE INDEX rm_entries_ats ON rm_entries (ats, service_date);
CREATE INDEX rm_entries_failure ON rm_entries (system_failure_id);

CREATE TABLE rm_requests (
    request_id  TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL,
    phase       INTEGER NOT NULL,
    ats         TEXT NOT NULL,
    provider    TEXT NOT NULL,
    channel     TEXT NOT NULL,
    status      TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    deadline    TEXT,
    times_sent  INTEGER NOT NULL,
    entry_ids   TEXT NOT NULL
);
CREATE INDEX rm_requests_case ON rm_requests (case_id);
CREATE INDEX rm_requests_ats ON rm_requests (ats, status);

CREATE TABLE rm_alerts (
    case_id     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    code        TEXT NOT NULL,
    phase       INTEGER,
    request_id  TEXT,
    entry_ids   TEXT NOT NULL,
    message     TEXT NOT NULL,
    as_of       TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- Projection "audit_trail" -------------------------------------------------------------------

CREATE TABLE rm_audit_trail (
    case_id             TEXT NOT NULL,
    stream_version      INTEGER NOT NULL,
    event_id            TEXT NOT NULL,
    event_type          TEXT NOT NULL,
    schema_version      INTEGER NOT NULL,
    actor_cf            TEXT NOT NULL,
    actor_role          TEXT NOT NULL,
    occurred_at         TEXT NOT NULL,
    recorded_at         TEXT NOT NULL,
    description         TEXT NOT NULL,
    global_transaction  INTEGER NOT NULL,
    global_position     INTEGER NOT NULL,
    prev_hash           TEXT NOT NULL,
    hash                TEXT NOT NULL,
    PRIMARY KEY (case_id, stream_version)
);

-- Projection "checklists" --------------------------------------------------------------------

CREATE TABLE rm_checklists (
    case_id              TEXT NOT NULL,
    stream_version       INTEGER NOT NULL,
    request_id           TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    phase                INTEGER NOT NULL,
    measure_id           TEXT NOT NULL,
    computed_at          TEXT NOT NULL,
    stored_by            TEXT NOT NULL,
    entry_ids            TEXT NOT NULL,
    request_minutes      INTEGER NOT NULL,
    minutes_by_figure    TEXT NOT NULL,
    request_cost_cents   INTEGER NOT NULL,
    counted_minutes      INTEGER NOT NULL,
    passed               INTEGER NOT NULL,
    PRIMARY KEY (case_id, stream_version)
);

CREATE TABLE rm_checklist_checks (
    case_id         TEXT NOT NULL,
    stream_version  INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    code            TEXT NOT NULL,
    description     TEXT NOT NULL,
    subject         TEXT,
    limit_value     INTEGER,
    actual_value    INTEGER,
    passed          INTEGER NOT NULL,
    blocking        INTEGER NOT NULL,
    entry_ids       TEXT NOT NULL,
    PRIMARY KEY (case_id, stream_version, seq)
);

-- Projection "system_failures" ---------------------------------------------------------------

CREATE TABLE rm_system_failures (
    failure_id   TEXT PRIMARY KEY,
    scope        TEXT NOT NULL,
    ente         TEXT,
    ticket       TEXT NOT NULL,
    description  TEXT NOT NULL,
    began_at     TEXT NOT NULL,
    resolved_at  TEXT,
    declared_by  TEXT NOT NULL,
    declared_at  TEXT NOT NULL,
    resolved_by  TEXT,
    resolution_recorded_at TEXT
);
