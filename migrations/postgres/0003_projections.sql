-- Read models (projections) built from the global event log; documented in docs/projections.md.
-- Every rm_* table is derived data: `diario rebuild` truncates it and replays the log.
-- Text keys use the "C" collation so that ordering (and cursor pagination) is bytewise and
-- identical to SQLite's.

-- One row per projection: the last applied global position, i.e. the pair
-- (writing transaction id, position) on PostgreSQL. Moved in the same transaction as the
-- read-model writes.
CREATE TABLE projection_checkpoints (
    projection      TEXT COLLATE "C" PRIMARY KEY,
    transaction_id  BIGINT NOT NULL DEFAULT 0,
    position        BIGINT NOT NULL DEFAULT 0,
    events_applied  BIGINT NOT NULL DEFAULT 0,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Projection "case_diaries" ------------------------------------------------------------------

CREATE TABLE rm_cases (
    case_id                UUID PRIMARY KEY,
    measure_id             TEXT COLLATE "C" NOT NULL,
    ats                    TEXT COLLATE "C" NOT NULL,
    asst                   TEXT COLLATE "C" NOT NULL,
    provider               TEXT COLLATE "C" NOT NULL,
    status                 TEXT COLLATE "C" NOT NULL,
    recipient_pseudonym    TEXT NOT NULL,
    recipient_minor        BOOLEAN NOT NULL,
    firmalom_enrolled      BOOLEAN NOT NULL,
    responsabile_asst      TEXT NOT NULL,
    responsabile_provider  TEXT NOT NULL,
    case_manager           TEXT NOT NULL,
    opened_at              TIMESTAMPTZ NOT NULL,
    interrupted_at         TIMESTAMPTZ,
    last_entry_at          TIMESTAMPTZ,
    last_entry_date        DATE,
    minutes                BIGINT NOT NULL,
    confirmed_minutes      BIGINT NOT NULL,
    confirmed_cost_cents   BIGINT NOT NULL,
    version                BIGINT NOT NULL,
    last_event_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX rm_cases_ats ON rm_cases (ats, case_id);
CREATE INDEX rm_cases_provider ON rm_cases (provider, case_id);

CREATE TABLE rm_diaries (
    case_id               UUID NOT NULL,
    phase                 SMALLINT NOT NULL,
    ats                   TEXT COLLATE "C" NOT NULL,
    provider              TEXT COLLATE "C" NOT NULL,
    status                TEXT COLLATE "C" NOT NULL,
    opened_by             TEXT NOT NULL,
    opened_at             TIMESTAMPTZ NOT NULL,
    entries               BIGINT NOT NULL,
    minutes               BIGINT NOT NULL,
    confirmed_minutes     BIGINT NOT NULL,
    confirmed_cost_cents  BIGINT NOT NULL,
    PRIMARY KEY (case_id, phase)
);
CREATE INDEX rm_diaries_ats ON rm_diaries (ats);

CREATE TABLE rm_entries (
    entry_id           UUID PRIMARY KEY,
    case_id            UUID NOT NULL,
    phase              SMALLINT NOT NULL,
    ats                TEXT COLLATE "C" NOT NULL,
    provider           TEXT COLLATE "C" NOT NULL,
    professional       TEXT COLLATE "C" NOT NULL,
    figure             TEXT COLLATE "C" NOT NULL,
    service            TEXT COLLATE "C" NOT NULL,
    service_date       DATE NOT NULL,
    start_time         TEXT NOT NULL,
    end_time           TEXT NOT NULL,
    minutes            BIGINT NOT NULL,
    state              TEXT COLLATE "C" NOT NULL,
    validated          BOOLEAN NOT NULL,
    revision           BIGINT NOT NULL,
    system_failure_id  UUID,
    recorded_at        TIMESTAMPTZ NOT NULL,
    request_id         UUID,
    unit_cost_cents    BIGINT,
    cost_cents         BIGINT NOT NULL
);
CREATE INDEX rm_entries_case ON rm_entries (case_id, phase);
CREATE INDEX rm_entries_ats ON rm_entries (ats, service_date);
CREATE INDEX rm_entries_failure ON rm_entries (system_failure_id);

CREATE TABLE rm_requests (
    request_id  UUID PRIMARY KEY,
    case_id     UUID NOT NULL,
    phase       SMALLINT NOT NULL,
    ats         TEXT COLLATE "C" NOT NULL,
    provider    TEXT COLLATE "C" NOT NULL,
    channel     TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL,
    sent_at     TIMESTAMPTZ NOT NULL,
    deadline    TIMESTAMPTZ,
    times_sent  BIGINT NOT NULL,
    entry_ids   JSONB NOT NULL
);
CREATE INDEX rm_requests_case ON rm_requests (case_id);
CREATE INDEX rm_requests_ats ON rm_requests (ats, status);

CREATE TABLE rm_alerts (
    case_id     UUID NOT NULL,
    seq         BIGINT NOT NULL,
    code        TEXT COLLATE "C" NOT NULL,
    phase       SMALLINT,
    request_id  UUID,
    entry_ids   JSONB NOT NULL,
    message     TEXT NOT NULL,
    as_of       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, seq)
);

-- Projection "audit_trail" -------------------------------------------------------------------

CREATE TABLE rm_audit_trail (
    case_id             UUID NOT NULL,
    stream_version      BIGINT NOT NULL,
    event_id            UUID NOT NULL,
    event_type          TEXT COLLATE "C" NOT NULL,
    schema_version      INTEGER NOT NULL,
    actor_cf            TEXT COLLATE "C" NOT NULL,
    actor_role          TEXT COLLATE "C" NOT NULL,
    occurred_at         TIMESTAMPTZ NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL,
    description         TEXT NOT NULL,
    global_transaction  BIGINT NOT NULL,
    global_position     BIGINT NOT NULL,
    prev_hash           TEXT NOT NULL,
    hash                TEXT NOT NULL,
    PRIMARY KEY (case_id, stream_version)
);

-- Projection "checklists" --------------------------------------------------------------------

CREATE TABLE rm_checklists (
    case_id              UUID NOT NULL,
    stream_version       BIGINT NOT NULL,
    request_id           UUID NOT NULL,
    kind                 TEXT COLLATE "C" NOT NULL,
    phase                SMALLINT NOT NULL,
    measure_id           TEXT COLLATE "C" NOT NULL,
    computed_at          TIMESTAMPTZ NOT NULL,
    stored_by            TEXT NOT NULL,
    entry_ids            JSONB NOT NULL,
    request_minutes      BIGINT NOT NULL,
    minutes_by_figure    JSONB NOT NULL,
    request_cost_cents   BIGINT NOT NULL,
    counted_minutes      BIGINT NOT NULL,
    passed               BOOLEAN NOT NULL,
    PRIMARY KEY (case_id, stream_version)
);

CREATE TABLE rm_checklist_checks (
    case_id         UUID NOT NULL,
    stream_version  BIGINT NOT NULL,
    seq             BIGINT NOT NULL,
    code            TEXT COLLATE "C" NOT NULL,
    description     TEXT NOT NULL,
    subject         TEXT,
    limit_value     BIGINT,
    actual_value    BIGINT,
    passed          BOOLEAN NOT NULL,
    blocking        BOOLEAN NOT NULL,
    entry_ids       JSONB NOT NULL,
    PRIMARY KEY (case_id, stream_version, seq)
);

-- Projection "system_failures" ---------------------------------------------------------------

CREATE TABLE rm_system_failures (
    failure_id   UUID PRIMARY KEY,
    scope        TEXT COLLATE "C" NOT NULL,
    ente         TEXT COLLATE "C",
    ticket       TEXT NOT NULL,
    description  TEXT NOT NULL,
    began_at     TIMESTAMPTZ NOT NULL,
    resolved_at  TIMESTAMPTZ,
    declared_by  TEXT NOT NULL,
    declared_at  TIMESTAMPTZ NOT NULL,
    resolved_by  TEXT,
    resolution_recorded_at TIMESTAMPTZ
);
