-- Named API keys and browser sessions. Neither table holds a usable credential: a key or a
-- session token is stored only as the SHA-256 of the token, which has 256 random bits, so
-- the hash cannot be reversed by guessing (see actors/src/access.rs).

CREATE TABLE api_keys (
    id             uuid PRIMARY KEY,
    name           text        NOT NULL,
    scope          text        NOT NULL CHECK (scope IN ('admin', 'application')),
    application_id uuid        REFERENCES applications (id),
    -- The visible start of the token (`ck_<12 hex>`), shown in lists to tell keys apart.
    prefix         text        NOT NULL,
    token_hash     bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz,
    revoked_at     timestamptz,
    CHECK ((scope = 'application') = (application_id IS NOT NULL))
);

CREATE INDEX api_keys_live ON api_keys (id DESC) WHERE revoked_at IS NULL;
CREATE INDEX api_keys_by_application ON api_keys (application_id) WHERE revoked_at IS NULL;

-- A session is created from a credential and is worth exactly what that credential was:
--   kind 'bootstrap': from COURIER_API_KEY; `bootstrap_check` is HMAC-SHA256(key, token),
--                     so changing COURIER_API_KEY ends these sessions.
--   kind 'api_key':   from a named key; revoking the key deletes its sessions.
-- A later 'portal' kind (consumer portal links) adds its own application-scoped rows.
CREATE TABLE sessions (
    token_hash      bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
    kind            text        NOT NULL CHECK (kind IN ('bootstrap', 'api_key')),
    api_key_id      uuid        REFERENCES api_keys (id) ON DELETE CASCADE,
    bootstrap_check bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CHECK ((kind = 'api_key') = (api_key_id IS NOT NULL)),
    CHECK ((kind = 'bootstrap') = (bootstrap_check IS NOT NULL))
);

CREATE INDEX sessions_by_api_key ON sessions (api_key_id) WHERE api_key_id IS NOT NULL;
CREATE INDEX sessions_expiry ON sessions (expires_at);
