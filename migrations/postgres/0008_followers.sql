-- The deadline scheduler's watch list and the FirmaLOM outbox are followers of the log like the
-- read models: one mechanism, one checkpoint table. Their checkpoints move into
-- projection_checkpoints under their follower names; the two single-row tables go.
INSERT INTO projection_checkpoints (projection, transaction_id, position, events_applied)
SELECT 'deadline_watch', last_transaction, last_position, 0 FROM deadline_watch_checkpoint
ON CONFLICT (projection) DO NOTHING;
INSERT INTO projection_checkpoints (projection, transaction_id, position, events_applied)
SELECT 'firmalom_outbox', last_transaction, last_position, 0 FROM firmalom_feed_checkpoint
ON CONFLICT (projection) DO NOTHING;
DROP TABLE deadline_watch_checkpoint;
DROP TABLE firmalom_feed_checkpoint;

-- The heads of a stream category (every `failure-…` stream, compared on each case command
-- with the cached failures) must not scan every stream head: a pattern index makes
-- `stream_id LIKE 'prefix%'` an index range scan whatever the database collation.
CREATE INDEX streams_stream_pattern ON streams (stream_id text_pattern_ops);

-- Nothing reads a category from the events table any more (stream_heads reads the heads), and
-- every append paid for this index.
DROP INDEX events_stream_pattern;
