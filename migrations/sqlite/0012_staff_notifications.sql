-- Notifications for staff (projection "staff_notifications", docs/projections.md): the
-- rejections and expiries a responsabile must act on, one row per event, addressed to the
-- phase's responsabile when it happened.
CREATE TABLE rm_notifications (
    notification_id  TEXT PRIMARY KEY,
    person           TEXT NOT NULL,
    case_id          TEXT NOT NULL,
    phase            INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    detail           TEXT NOT NULL,
    at               TEXT NOT NULL
);
CREATE INDEX rm_notifications_person ON rm_notifications (person, at);

-- What the follower keeps of each case to address them: the measure and the responsabili.
CREATE TABLE rm_notification_cases (
    case_id                TEXT PRIMARY KEY,
    measure_id             TEXT NOT NULL,
    responsabile_asst      TEXT NOT NULL,
    responsabile_provider  TEXT NOT NULL
);
