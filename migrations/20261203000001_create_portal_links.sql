-- Consumer portal links and the sessions they open.
--
-- A portal link is a one-time credential for one application's portal: stored only as the
-- SHA-256 of its token (256 random bits, like API keys), usable once (`used_at`) before
-- `expires_at`, revocable (`revoked_at`). Opening it starts a session of kind 'portal' in
-- `sessions`, which lasts until the link's `expires_at` and ends when the link is revoked
-- (its session rows are deleted in the same transaction, and the join on `portal_links`
-- refuses them anyway).

CREATE TABLE portal_links (
    id             uuid PRIMARY KEY,
    application_id uuid        NOT NULL REFERENCES applications (id),
    token_hash     bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    read_only      boolean     NOT NULL DEFAULT false,
    -- The named key that made it; NULL for COURIER_API_KEY.
    created_by     uuid        REFERENCES api_keys (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    revoked_at     timestamptz,
    CHECK (expires_at > created_at)
);

CREATE INDEX portal_links_by_application ON portal_links (application_id, id DESC)
    WHERE revoked_at IS NULL;

ALTER TABLE sessions ADD COLUMN portal_link_id uuid REFERENCES portal_links (id) ON DELETE CASCADE;
ALTER TABLE sessions DROP CONSTRAINT sessions_kind_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_kind_check
    CHECK (kind IN ('bootstrap', 'api_key', 'portal'));
ALTER TABLE sessions ADD CONSTRAINT sessions_portal_link_check
    CHECK ((kind = 'portal') = (portal_link_id IS NOT NULL));

CREATE INDEX sessions_by_portal_link ON sessions (portal_link_id) WHERE portal_link_id IS NOT NULL;
