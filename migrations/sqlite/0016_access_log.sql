-- Who read what (Art. 10; GDPR art. 32): every read of a case's personal data is recorded
-- here: who, when, what, as which role. Append-only like the event log; never the data read.
CREATE TABLE access_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    person      TEXT NOT NULL,
    role        TEXT NOT NULL,
    what        TEXT NOT NULL,
    case_id     TEXT,
    detail      TEXT,
    request_id  TEXT
);
CREATE INDEX access_log_case ON access_log (case_id, id);
CREATE INDEX access_log_person ON access_log (person, id);

CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'the access log is append-only: UPDATE on access_log is refused');
END;

CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'the access log is append-only: DELETE on access_log is refused');
END;
