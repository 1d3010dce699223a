-- Courier's core schema. Ids are UUIDv7 (time-ordered), so "newest first", cursor
-- pagination, time ranges and retention all use the primary key or (parent, id) indexes.
--
-- The hot tables (messages, deliveries, attempts) carry no foreign keys and as few indexes as
-- the API's filters need: every ingest inserts into two of them and every attempt writes two,
-- and a foreign key to a subscription makes concurrent ingests share a row lock on it.
-- Courier keeps the references itself (subscriptions are only soft-deleted; retention
-- deletes children before parents).

CREATE TABLE subscriptions (
    id                         uuid PRIMARY KEY,
    target_url                 text        NOT NULL,
    event_types                text[]      NOT NULL DEFAULT '{}',
    description                text,
    headers                    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    rate_limit_per_second      integer     CHECK (rate_limit_per_second > 0),
    max_in_flight              integer     NOT NULL CHECK (max_in_flight > 0),
    timeout_ms                 integer     CHECK (timeout_ms > 0),
    status                     text        NOT NULL DEFAULT 'active'
                                           CHECK (status IN ('active', 'paused', 'disabled')),
    disabled_reason            text,
    -- The signing secret must be usable as an HMAC key, so it is stored as given; it is only
    -- ever returned by create and rotate-secret.
    secret                     text        NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    -- True when the client chose the secret at creation: ingestion then needs a signature.
    requires_signature         boolean     NOT NULL,
    -- Set at the first failed delivery after a success; cleared by a success.
    failing_since              timestamptz,
    -- The node whose actors deliver for this subscription (see `nodes`).
    owner_node                 text,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    deleted_at                 timestamptz
);

-- List with a status filter, newest first, live rows only.
CREATE INDEX subscriptions_live_by_status ON subscriptions (status, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX subscriptions_live ON subscriptions (id DESC) WHERE deleted_at IS NULL;

CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    event_type      text        NOT NULL,
    -- `json`, not `jsonb`: it keeps the producer's bytes exactly, which deliveries must send.
    payload         json        NOT NULL,
    -- The subscription for the per-subscription ingest forms; NULL for fan-out.
    subscription_id uuid,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
    id               uuid PRIMARY KEY,
    message_id       uuid        NOT NULL,
    subscription_id  uuid        NOT NULL,
    event_type       text        NOT NULL,
    status           text        NOT NULL CHECK (status IN
                         ('pending', 'delivering', 'retrying', 'succeeded', 'failed', 'filtered', 'paused')),
    attempt_count    integer     NOT NULL DEFAULT 0,
    -- Attempts made before the last manual retry or recover: the retry budget starts again
    -- from here, so a recovered delivery gets the whole schedule.
    attempt_base     integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- A subscription's log, newest first; its status, event-type and time filters walk this
-- index (time bounds become id bounds).
CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id, id DESC);
CREATE INDEX deliveries_by_message ON deliveries (message_id);
-- The sweeper: unfinished deliveries by due time (held ones too, for the overview's counts).
CREATE INDEX deliveries_unfinished_due ON deliveries (next_attempt_at)
    WHERE status IN ('pending', 'delivering', 'retrying', 'paused');

CREATE TABLE attempts (
    id              uuid PRIMARY KEY,
    delivery_id     uuid        NOT NULL,
    attempt_number  integer     NOT NULL,
    attempted_at    timestamptz NOT NULL,
    request_headers json        NOT NULL,
    status_code     integer,
    response_body   text,
    duration_ms     integer     NOT NULL,
    error_class     text,
    error_message   text,
    succeeded       boolean     NOT NULL
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempt_number);

-- Answers remembered for `Idempotency-Key` (24 h).
CREATE TABLE idempotency_keys (
    scope      text        NOT NULL,
    key        text        NOT NULL,
    response   jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- Nodes sharing this database. A node owns its subscriptions while its heartbeat is fresh;
-- the subscriptions of a node that stopped beating are claimed by the others.
CREATE TABLE nodes (
    node_id      text PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_owner ON subscriptions (owner_node) WHERE deleted_at IS NULL;
