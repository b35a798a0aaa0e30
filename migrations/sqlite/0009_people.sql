-- Staff names and memberships (projection "people", docs/projections.md): views and documents
-- show a person's name next to the fiscal code (issue 13). Filled from the person-{cf} streams.
CREATE TABLE rm_people (
    fiscal_code  TEXT PRIMARY KEY,
    given_name   TEXT NOT NULL,
    family_name  TEXT NOT NULL
);

-- One row per organisation a person works for, with the figures there (JSON array).
CREATE TABLE rm_staff (
    organisation TEXT NOT NULL,
    fiscal_code  TEXT NOT NULL,
    figures      TEXT NOT NULL,
    PRIMARY KEY (organisation, fiscal_code)
);

-- Who a case names, and as what (projection "case_diaries"): GET /v1/me/cases reads it by
-- person. role: responsabile | case_manager | professional; ente: asst | provider; figures:
-- the professional's enabled figures (JSON array; empty for the other roles).
CREATE TABLE rm_case_people (
    person   TEXT NOT NULL,
    case_id  TEXT NOT NULL,
    role     TEXT NOT NULL,
    ente     TEXT NOT NULL,
    figures  TEXT NOT NULL,
    PRIMARY KEY (person, case_id, role, ente)
);
CREATE INDEX rm_case_people_case ON rm_case_people (case_id);

-- rm_case_people starts empty: let the runner rebuild case_diaries from the log (derived data
-- only; the event log is untouched).
DELETE FROM rm_ats_counters;
DELETE FROM rm_alerts;
DELETE FROM rm_requests;
DELETE FROM rm_entries;
DELETE FROM rm_diaries;
DELETE FROM rm_cases;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0
 WHERE projection = 'case_diaries';
