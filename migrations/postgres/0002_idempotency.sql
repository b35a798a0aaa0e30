-- HTTP idempotency (DESIGN §6): the first answer to a write, kept per (actor, Idempotency-Key)
-- so a retry gets it back byte for byte. `key_hash` is SHA-256(actor CF ‖ key): no personal
-- data in clear. `request_hash` is SHA-256(method ‖ path ‖ body): the same key with another
-- request is refused. This table is not part of the event log; old rows may be purged.
CREATE TABLE idempotency_keys (
    key_hash      TEXT PRIMARY KEY CHECK (length(key_hash) = 64),
    request_hash  TEXT NOT NULL CHECK (length(request_hash) = 64),
    status        INTEGER NOT NULL,
    etag          TEXT,
    content_type  TEXT NOT NULL,
    body          BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
