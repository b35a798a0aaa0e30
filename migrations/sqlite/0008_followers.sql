-- The deadline scheduler's watch list and the FirmaLOM outbox are followers of the log like the
-- read models: one mechanism, one checkpoint table. Their checkpoints move into
-- projection_checkpoints under their follower names; the two single-row tables go.
INSERT OR IGNORE INTO projection_checkpoints (projection, transaction_id, position, events_applied)
SELECT 'deadline_watch', last_transaction, last_position, 0 FROM deadline_watch_checkpoint;
INSERT OR IGNORE INTO projection_checkpoints (projection, transaction_id, position, events_applied)
SELECT 'firmalom_outbox', last_transaction, last_position, 0 FROM firmalom_feed_checkpoint;
DROP TABLE deadline_watch_checkpoint;
DROP TABLE firmalom_feed_checkpoint;
