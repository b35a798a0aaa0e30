-- The event store (DESIGN §5). The events table is append-only: a trigger refuses UPDATE and
-- DELETE, and the per-stream hash chain makes any change made around the trigger detectable.

CREATE TABLE streams (
    stream_id   TEXT PRIMARY KEY,
    version     BIGINT NOT NULL CHECK (version >= 0),
    last_hash   TEXT   NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE events (
    -- Global position from a sequence. Concurrent transactions may commit positions out of
    -- order, so subscribers read in (transaction_id, position) order below the oldest running
    -- transaction: see docs/event-store.md.
    position        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  XID8   NOT NULL DEFAULT pg_current_xact_id(),
    event_id        UUID   NOT NULL UNIQUE,
    stream_id       TEXT   NOT NULL,
    stream_version  BIGINT NOT NULL CHECK (stream_version >= 1),
    event_type      TEXT   NOT NULL CHECK (event_type <> ''),
    schema_version  INTEGER NOT NULL CHECK (schema_version >= 1),
    payload         JSONB  NOT NULL,
    actor_cf        TEXT   NOT NULL,
    actor_role      TEXT   NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    command_id      UUID   NOT NULL,
    correlation_id  UUID   NOT NULL,
    causation_id    UUID,
    prev_hash       TEXT   NOT NULL CHECK (length(prev_hash) = 64),
    hash            TEXT   NOT NULL CHECK (length(hash) = 64),
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_commit_order ON events (transaction_id, position);
CREATE INDEX events_command ON events (command_id);

-- One row per command that wrote events: the idempotency record.
CREATE TABLE command_log (
    command_id   UUID PRIMARY KEY,
    stream_id    TEXT   NOT NULL,
    version      BIGINT NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION events_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on events is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_immutable();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_immutable();
