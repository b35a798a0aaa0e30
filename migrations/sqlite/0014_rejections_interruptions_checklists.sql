-- The recipient's rejections of each request (which entries, the reason when given, who, when)
-- and the interruption of a pathway (cause, description, who, when), shown in the case view;
-- the catalogue version each checklist used; who co-signed a late entry (Art. 9). rm_requests,
-- rm_entries, rm_cases and rm_checklists gain a column: let the runner rebuild case_diaries
-- and checklists from the log (derived data only; the event log is untouched).
ALTER TABLE rm_requests ADD COLUMN rejections TEXT NOT NULL DEFAULT '[]';
ALTER TABLE rm_entries ADD COLUMN cosigned_by TEXT;
ALTER TABLE rm_cases ADD COLUMN interruption TEXT;
DELETE FROM rm_ats_counters;
DELETE FROM rm_alerts;
DELETE FROM rm_case_people;
DELETE FROM rm_requests;
DELETE FROM rm_entries;
DELETE FROM rm_diaries;
DELETE FROM rm_cases;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0
 WHERE projection = 'case_diaries';
ALTER TABLE rm_checklists ADD COLUMN catalogue_version TEXT;
DELETE FROM rm_checklist_checks;
DELETE FROM rm_checklists;
UPDATE projection_checkpoints SET transaction_id = 0, position = 0, events_applied = 0
 WHERE projection = 'checklists';
