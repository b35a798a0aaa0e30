-- Paper diary scans and the deadline scheduler's watch list (issue 6).

-- Signed paper-diary scans, content-addressed: the key is the SHA-256 of the bytes, which is
-- also what the `PaperConfirmationUploaded` event records. Never updated; a second upload of
-- the same bytes is the same row.
CREATE TABLE documents (
    sha256       TEXT PRIMARY KEY,              -- lower-case hex of SHA-256(bytes)
    media_type   TEXT NOT NULL,                 -- application/pdf | image/jpeg | image/png (by content)
    bytes        BYTEA NOT NULL,
    size         BIGINT NOT NULL,
    case_id      TEXT NOT NULL,                 -- the case it was first uploaded for (access control)
    uploaded_by  TEXT NOT NULL,
    uploaded_at  TEXT NOT NULL
);

-- Candidates for the deadline scheduler: digital requests and their current answer deadline,
-- fed from the event log (ConfirmationRequested / ConfirmationResent) with its own checkpoint.
-- Only a hint: the scheduler re-checks every candidate against the case stream before it
-- records an expiry, and the domain refuses a second expiry. Independent of the projections so
-- that a read-model rebuild or a lagging runner never delays an expiry.
CREATE TABLE deadline_watch (
    request_id   TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    deadline     TEXT NOT NULL,                 -- RFC 3339 UTC, six fractional digits (sorts as text)
    done         BIGINT NOT NULL DEFAULT 0     -- 1: no longer pending once the deadline passed
);
CREATE INDEX deadline_watch_due ON deadline_watch (deadline) WHERE done = 0;

CREATE TABLE deadline_watch_checkpoint (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    last_transaction  BIGINT NOT NULL,
    last_position     BIGINT NOT NULL
);
INSERT INTO deadline_watch_checkpoint (id, last_transaction, last_position) VALUES (1, 0, 0);
