-- Seed 004, for the pages: who works on which plan, the timesheet rows and signatures (read
-- model 10, `plans`). New tables; the projection is new in this release, so it fills them from
-- position 0 with the others.
-- `role`: `person` (works on the plan, keeps a timesheet) or `countersigner`.
CREATE TABLE rm_plan_people (
    plan_id  TEXT NOT NULL,
    person   TEXT NOT NULL,
    role     TEXT NOT NULL,
    PRIMARY KEY (plan_id, person, role)
);
CREATE INDEX rm_plan_people_person ON rm_plan_people (person);
CREATE TABLE rm_timesheet_rows (
    row_id    TEXT PRIMARY KEY,
    person    TEXT NOT NULL,
    month     TEXT NOT NULL,
    plan_id   TEXT NOT NULL,
    minutes   BIGINT NOT NULL,
    withdrawn BIGINT NOT NULL
);
CREATE INDEX rm_timesheet_rows_plan ON rm_timesheet_rows (plan_id, person, month);
CREATE TABLE rm_timesheet_signatures (
    person    TEXT NOT NULL,
    month     TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (person, month)
);
