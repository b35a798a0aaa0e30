-- read_category uses a range on stream_id (BINARY collation), served by the unique index on
-- (stream_id, stream_version); nothing to add. Kept so both backends share version numbers.
SELECT 1;
