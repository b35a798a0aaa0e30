-- read_category (e.g. every `failure-…` stream, read on each case command for Art. 9) must not
-- scan the whole log: a pattern index makes `stream_id LIKE 'prefix%'` an index range scan
-- whatever the database collation.
CREATE INDEX events_stream_pattern ON events (stream_id text_pattern_ops, stream_version);
