-- Browser sessions of the web interface (docs/api.md, "Browser login"). Operational state, not
-- facts: rows are created, touched and deleted (the event log is never touched).

-- A login under way: the authorization request's state (hashed), its PKCE verifier and nonce,
-- and where to go afterwards. One use; older than 10 minutes it is refused and purged.
CREATE TABLE web_logins (
    state_hash     TEXT PRIMARY KEY,
    pkce_verifier  TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    return_to      TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

-- A signed-in person. The cookie carries a random id; only its SHA-256 is stored, so the
-- table cannot be used to take a session over. csrf_token is embedded in every form.
CREATE TABLE web_sessions (
    id_hash        TEXT PRIMARY KEY,
    fiscal_code    TEXT NOT NULL,
    csrf_token     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    development    BOOLEAN NOT NULL
);
CREATE INDEX web_sessions_person ON web_sessions (fiscal_code);
