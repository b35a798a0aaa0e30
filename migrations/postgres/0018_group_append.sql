-- Appends in one round trip, many per transaction (issue 18; docs/event-store.md, "Group
-- commit"). The client seals each part of an append on the head it believes current (version
-- and last hash) and sends whole groups of appends; this function locks every head the group
-- touches in stream-id order, checks each append against the heads as they stand (after the
-- group's earlier appends), and writes only the appends whose every part matches: a conflict
-- in one append does not fail the others. Each append answers with one row:
--   'ok'        written; one 'event' row per event follows with its global position,
--   'conflict'  a part expected an exact version the stream is not at (r_stream, r_version and
--               r_hash give that stream's head),
--   'stale'     the head the client sealed on was not the stream's (version "any", or a hash it
--               did not know): it seals again on the head returned,
--   'replayed'  the command id is already recorded: nothing written; the client reads the
--               first outcome.
-- The event log stays append-only: this only INSERTs events, and moves heads and the command
-- log exactly as the single-append path does.
CREATE FUNCTION diario_append(
    genesis       TEXT,
    -- one entry per part (a stream's share of an append), 1-based like every SQL array
    p_append      INT[],     -- the append (index into a_*) the part belongs to
    p_stream      TEXT[],
    p_expected    BIGINT[],  -- version the part was sealed on
    p_any         BOOLEAN[], -- true: the caller accepts any version (a mismatch is 'stale')
    p_prev        TEXT[],    -- hash the part was chained from
    p_version     BIGINT[],  -- version after the part
    p_hash        TEXT[],    -- hash after the part
    -- one entry per append
    a_command     UUID[],
    a_primary     INT[],     -- the part whose stream records the command id
    a_actor_cf    TEXT[],
    a_actor_role  TEXT[],
    a_occurred    TIMESTAMPTZ[],
    a_recorded    TIMESTAMPTZ[],
    a_correlation UUID[],
    a_causation   UUID[],
    -- one entry per event
    e_part        INT[],
    e_event_id    UUID[],
    e_version     BIGINT[],
    e_type        TEXT[],
    e_schema      INT[],
    e_payload     JSONB[],
    e_prev        TEXT[],
    e_hash        TEXT[]
) RETURNS TABLE (
    r_kind     TEXT,
    r_append   INT,
    r_stream   TEXT,
    r_version  BIGINT,
    r_hash     TEXT,
    r_event    UUID,
    r_tx       TEXT,
    r_position BIGINT
) LANGUAGE plpgsql AS $$
DECLARE
    n_appends INT := coalesce(array_length(a_command, 1), 0);
    n_parts   INT := coalesce(array_length(p_stream, 1), 0);
    written   INT[] := '{}';
    i INT;
    k INT;
    bad INT;
    bad_kind TEXT;
    head_version BIGINT;
    head_hash TEXT;
BEGIN
    -- Every existing head of the group, locked in stream-id order: two groups sharing streams
    -- queue on the first they share instead of waiting for each other in a cycle.
    PERFORM 1 FROM streams s WHERE s.stream_id = ANY (p_stream) ORDER BY s.stream_id FOR UPDATE;

    FOR i IN 1 .. n_appends LOOP
        bad := NULL;
        bad_kind := NULL;
        -- This append's answer row: only the kind and, for a refusal, the head are set below.
        r_append := i;
        r_stream := NULL;
        r_version := NULL;
        r_hash := NULL;
        r_event := NULL;
        r_tx := NULL;
        r_position := NULL;
        FOR k IN 1 .. n_parts LOOP
            CONTINUE WHEN p_append[k] <> i;
            SELECT s.version, s.last_hash INTO head_version, head_hash
                FROM streams s WHERE s.stream_id = p_stream[k];
            IF NOT FOUND THEN
                head_version := 0;
                head_hash := genesis;
            END IF;
            IF head_version <> p_expected[k] OR head_hash <> p_prev[k] THEN
                bad := k;
                bad_kind := CASE
                    WHEN p_any[k] OR head_version = p_expected[k] THEN 'stale'
                    ELSE 'conflict' END;
                EXIT;
            END IF;
        END LOOP;

        IF bad IS NULL THEN
            -- New streams get their head now (after every existing part matched), so an
            -- append refused on another part leaves no empty head behind.
            FOR k IN 1 .. n_parts LOOP
                CONTINUE WHEN p_append[k] <> i OR p_expected[k] <> 0;
                INSERT INTO streams (stream_id, version, last_hash)
                    VALUES (p_stream[k], 0, genesis)
                    ON CONFLICT (stream_id) DO NOTHING;
                IF NOT FOUND THEN
                    -- Created meanwhile by another transaction (now committed): look again.
                    SELECT s.version, s.last_hash INTO head_version, head_hash
                        FROM streams s WHERE s.stream_id = p_stream[k] FOR UPDATE;
                    IF head_version <> 0 THEN
                        bad := k;
                        bad_kind := CASE WHEN p_any[k] THEN 'stale' ELSE 'conflict' END;
                        EXIT;
                    END IF;
                END IF;
            END LOOP;
        END IF;

        IF bad IS NOT NULL THEN
            IF EXISTS (SELECT 1 FROM command_log c WHERE c.command_id = a_command[i]) THEN
                r_kind := 'replayed';
            ELSE
                SELECT s.version, s.last_hash INTO head_version, head_hash
                    FROM streams s WHERE s.stream_id = p_stream[bad];
                IF NOT FOUND THEN
                    head_version := 0;
                    head_hash := genesis;
                END IF;
                r_kind := bad_kind;
                r_stream := p_stream[bad];
                r_version := head_version;
                r_hash := head_hash;
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;

        -- The idempotency record: a command id already recorded (or committed meanwhile by a
        -- concurrent copy of the command) writes nothing.
        INSERT INTO command_log (command_id, stream_id, version, recorded_at)
            VALUES (a_command[i], p_stream[a_primary[i]], p_version[a_primary[i]], now())
            ON CONFLICT (command_id) DO NOTHING;
        IF NOT FOUND THEN
            r_kind := 'replayed';
            RETURN NEXT;
            CONTINUE;
        END IF;

        FOR k IN 1 .. n_parts LOOP
            CONTINUE WHEN p_append[k] <> i;
            UPDATE streams s SET version = p_version[k], last_hash = p_hash[k], updated_at = now()
                WHERE s.stream_id = p_stream[k];
        END LOOP;
        written := written || i;
        r_kind := 'ok';
        RETURN NEXT;
    END LOOP;

    -- The events of the written appends, in the order given (the group's order, then each
    -- stream's versions), in one INSERT.
    RETURN QUERY
    WITH inserted AS (
        INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version,
                            payload, actor_cf, actor_role, occurred_at, recorded_at, command_id,
                            correlation_id, causation_id, prev_hash, hash)
        SELECT e.event_id, p_stream[e.part], e.version, e.kind, e.schema, e.payload,
               a_actor_cf[p_append[e.part]], a_actor_role[p_append[e.part]],
               a_occurred[p_append[e.part]], a_recorded[p_append[e.part]],
               a_command[p_append[e.part]], a_correlation[p_append[e.part]],
               a_causation[p_append[e.part]], e.prev, e.hash
          FROM unnest(e_part, e_event_id, e_version, e_type, e_schema, e_payload, e_prev, e_hash)
               WITH ORDINALITY AS e(part, event_id, version, kind, schema, payload, prev, hash, ord)
         WHERE p_append[e.part] = ANY (written)
         ORDER BY e.ord
        RETURNING events.event_id, events.transaction_id::text AS tx, events.position
    )
    SELECT 'event'::text, NULL::int, NULL::text, NULL::bigint, NULL::text,
           inserted.event_id, inserted.tx, inserted.position
      FROM inserted;
END;
$$;
