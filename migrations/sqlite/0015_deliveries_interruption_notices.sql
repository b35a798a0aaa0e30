-- Art. 6: the answer deadline runs from FirmaLOM's receipt of the notification; a request shows
-- when it was received, or that it could not be delivered. Art. 6: the interruption is notified
-- to the case manager, the responsabili and the ATS. rm_requests gains two columns and
-- rm_notifications is addressed per person (one event may notify several): let the runner
-- rebuild case_diaries and staff_notifications from the log (derived data only; the event
-- log is untouched).
ALTER TABLE rm_requests ADD COLUMN delivered_at TEXT;
ALTER TABLE rm_requests ADD COLUMN undelivered TEXT;
DELETE FROM rm_ats_counters;
DELETE FROM rm_alerts;
DELETE FROM rm_case_people;
DELETE FROM rm_requests;
DELETE FROM rm_entries;
DELETE FROM rm_diaries;
DELETE FROM rm_cases;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0
 WHERE projection = 'case_diaries';
DROP TABLE rm_notifications;
CREATE TABLE rm_notifications (
    notification_id  TEXT NOT NULL,
    person           TEXT NOT NULL,
    case_id          TEXT NOT NULL,
    phase            INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    request_id       TEXT,
    detail           TEXT NOT NULL,
    at               TEXT NOT NULL,
    PRIMARY KEY (notification_id, person)
);
CREATE INDEX rm_notifications_person ON rm_notifications (person, at);
DELETE FROM rm_notification_cases;
ALTER TABLE rm_notification_cases ADD COLUMN case_manager TEXT NOT NULL DEFAULT '';
ALTER TABLE rm_notification_cases ADD COLUMN ats TEXT NOT NULL DEFAULT '';
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0
 WHERE projection = 'staff_notifications';
-- Art. 9: when the operator's ticket was opened, shown beside began-at and declared-at.
ALTER TABLE rm_system_failures ADD COLUMN ticket_opened_at TEXT;
DELETE FROM rm_system_failures;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0
 WHERE projection = 'system_failures';
