-- Who read what (Art. 10; GDPR art. 32): every read of a case's personal data — case view,
-- audit trail, history, documents, dossier, the case page — is recorded here: who, when,
-- what, as which role. Append-only like the event log; it never holds the data read.
CREATE TABLE access_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    person      TEXT COLLATE "C" NOT NULL,
    role        TEXT COLLATE "C" NOT NULL,
    what        TEXT COLLATE "C" NOT NULL,
    case_id     UUID,
    detail      TEXT,
    request_id  TEXT
);
CREATE INDEX access_log_case ON access_log (case_id, id);
CREATE INDEX access_log_person ON access_log (person, id);

CREATE FUNCTION access_log_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only: % on access_log is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER access_log_append_only
    BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_is_immutable();

CREATE TRIGGER access_log_no_truncate
    BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_is_immutable();
