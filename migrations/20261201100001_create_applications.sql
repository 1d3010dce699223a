-- Applications (tenants): every subscription, message, delivery and API key belongs to one.
-- Two rows are built in and cannot be deleted:
--   default      00000000-0000-0000-0000-000000000001  the routes without /applications/{app}
--   courier-ops  00000000-0000-0000-0000-000000000002  Courier's own operational events
-- Applications are only soft-deleted (their delivery log still refers to them), so `uid` is
-- unique among live rows only: a deleted customer's uid can be given to a new application.

CREATE TABLE applications (
    id             uuid PRIMARY KEY,
    uid            text        NOT NULL CHECK (uid ~ '^[A-Za-z0-9._-]{1,64}$'),
    name           text        NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    -- Overrides COURIER_RETENTION for this application's delivery log; NULL = the global one.
    retention_secs bigint      CHECK (retention_secs > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);

CREATE UNIQUE INDEX applications_live_uid ON applications (uid) WHERE deleted_at IS NULL;
CREATE INDEX applications_live ON applications (id DESC) WHERE deleted_at IS NULL;

INSERT INTO applications (id, uid, name) VALUES
    ('00000000-0000-0000-0000-000000000001', 'default', 'Default application'),
    ('00000000-0000-0000-0000-000000000002', 'courier-ops', 'Courier operational events');
