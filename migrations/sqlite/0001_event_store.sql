-- The event store (DESIGN §5), SQLite flavour. Appends run in BEGIN IMMEDIATE transactions, so
-- one writer at a time: positions are assigned in commit order and `position` alone orders the
-- log. Identifiers and instants are stored as text so the file is readable by any tool.

CREATE TABLE streams (
    stream_id   TEXT PRIMARY KEY,
    version     INTEGER NOT NULL CHECK (version >= 0),
    last_hash   TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE events (
    position        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL UNIQUE,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version >= 1),
    event_type      TEXT    NOT NULL CHECK (event_type <> ''),
    schema_version  INTEGER NOT NULL CHECK (schema_version >= 1),
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    actor_cf        TEXT    NOT NULL,
    actor_role      TEXT    NOT NULL,
    occurred_at     TEXT    NOT NULL,
    recorded_at     TEXT    NOT NULL,
    command_id      TEXT    NOT NULL,
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT,
    prev_hash       TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    hash            TEXT    NOT NULL CHECK (length(hash) = 64),
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_command ON events (command_id);

CREATE TABLE command_log (
    command_id   TEXT PRIMARY KEY,
    stream_id    TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    recorded_at  TEXT    NOT NULL
);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: UPDATE on events is refused');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only: DELETE on events is refused');
END;
