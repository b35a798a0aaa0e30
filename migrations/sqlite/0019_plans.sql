-- Seed 004 (invecchiamento attivo 2024): the territorial plans and the staff cost their
-- countersigned timesheets price. Read model 10 (`plans`); new tables, filled from the log by
-- the new projection from position 0, so no rebuild of the others.
CREATE TABLE rm_plans (
    plan_id        TEXT PRIMARY KEY,
    measure_id     TEXT NOT NULL,
    ats            TEXT NOT NULL,
    title          TEXT NOT NULL,
    -- The plan as folded (diario_domain::plan::PlanFile), JSON.
    plan           TEXT NOT NULL
);
CREATE INDEX rm_plans_ats ON rm_plans (ats);
-- One line per plan, person, month and action of a countersigned timesheet, at the rate the
-- countersignature recorded.
CREATE TABLE rm_plan_costs (
    plan_id          TEXT NOT NULL,
    person           TEXT NOT NULL,
    month            TEXT NOT NULL,
    action           TEXT NOT NULL,
    organisation     TEXT NOT NULL,
    financing        TEXT NOT NULL,
    minutes          BIGINT NOT NULL,
    rate_cents       BIGINT NOT NULL,
    amount_cents     BIGINT NOT NULL,
    cost_record      TEXT,
    -- The rate as recorded (diario_domain::staff_cost::HourlyCost), JSON.
    rate             TEXT NOT NULL,
    countersigned_by TEXT NOT NULL,
    countersigned_at TEXT NOT NULL,
    PRIMARY KEY (plan_id, person, month, action)
);
