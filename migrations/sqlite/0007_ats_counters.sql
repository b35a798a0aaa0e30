-- Per-ATS counters of the "case_diaries" projection (docs/projections.md): the ATS dashboard
-- reads these few rows instead of aggregating every case, entry and request of the ATS at
-- query time, so its cost does not grow with the store (BENCHMARKS.md, growth).
-- metric: cases (k1 = status) | diaries (k1 = phase, k2 = status) | minutes and
-- confirmed_minutes (k1 = phase, k2 = figure) | requests (k1 = status) | late_entries.
-- A counter that returns to zero is deleted, so the table depends on the events only.
CREATE TABLE rm_ats_counters (
    ats     TEXT NOT NULL,
    metric  TEXT NOT NULL,
    k1      TEXT NOT NULL,
    k2      TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (ats, metric, k1, k2)
);

-- The dashboard's longest-idle open cases, read in order without sorting all of them.
CREATE INDEX rm_cases_idle ON rm_cases (ats, status, COALESCE(last_entry_at, opened_at), case_id);

-- The counters start empty: let the runner rebuild this projection from the log (derived data
-- only; the event log is untouched).
DELETE FROM rm_alerts;
DELETE FROM rm_requests;
DELETE FROM rm_entries;
DELETE FROM rm_diaries;
DELETE FROM rm_cases;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0
 WHERE projection = 'case_diaries';
