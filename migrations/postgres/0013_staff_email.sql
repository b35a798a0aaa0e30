-- Staff e-mail addresses for the notifications (projection "people"), and the notifications
-- already e-mailed (operational: one row per notification and person, so a restart or a second
-- server never sends one twice).
ALTER TABLE rm_people ADD COLUMN email TEXT;

CREATE TABLE mail_sent (
    notification_id  TEXT NOT NULL,
    person           TEXT NOT NULL,
    sent_at          TEXT NOT NULL,
    PRIMARY KEY (notification_id, person)
);

-- rm_people gains a column: let the runner rebuild the projection from the log.
DELETE FROM rm_staff;
DELETE FROM rm_people;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0
 WHERE projection = 'people';
