-- One truth for subscription state, and fenced ownership.
--
-- * Every subscription row carries a `version`; every change to a subscription is one
--   transaction that bumps it and appends to `subscription_changes`. Each node's in-process
--   directory is a read model of that log: it catches up by `seq` after any gap.
-- * What the delivering node learns at run time (the failing streak) lives apart from what
--   operators configure, in `subscription_health`, written only by the owner.
-- * Ownership is by shard: a subscription's shard is fixed by its id; a node owns a shard
--   while its lease row is fresh, and every takeover increases the shard's epoch, which
--   fences out whatever the previous owner still tries to write.

ALTER TABLE subscriptions ADD COLUMN version bigint NOT NULL DEFAULT 1;
-- The last two bytes of a UUIDv7 are random: `(byte14 * 256 + byte15) % 64`, the same
-- function as `courier_actors::domain::shard_of`.
ALTER TABLE subscriptions ADD COLUMN shard integer NOT NULL DEFAULT 0;
UPDATE subscriptions
   SET shard = (get_byte(uuid_send(id), 14) * 256 + get_byte(uuid_send(id), 15)) % 64;

-- The change log. `seq` is assigned while the change holds the exclusive change lock
-- (`pg_advisory_xact_lock`), so sequence order is commit order and a reader that has seen
-- `seq = n` has seen every change before it.
CREATE TABLE subscription_changes (
    seq             bigserial   PRIMARY KEY,
    subscription_id uuid        NOT NULL,
    version         bigint      NOT NULL,
    kind            text        NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscription_changes_at ON subscription_changes (at);
INSERT INTO subscription_changes (subscription_id, version, kind)
SELECT id, version, 'migrated' FROM subscriptions WHERE deleted_at IS NULL ORDER BY id;

CREATE TABLE subscription_health (
    subscription_id      uuid        PRIMARY KEY,
    -- Set at the first failed attempt after a success; cleared by a success.
    failing_since        timestamptz,
    consecutive_failures integer     NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
INSERT INTO subscription_health (subscription_id, failing_since)
SELECT id, failing_since FROM subscriptions WHERE failing_since IS NOT NULL;
ALTER TABLE subscriptions DROP COLUMN failing_since;

DROP INDEX subscriptions_owner;
ALTER TABLE subscriptions DROP COLUMN owner_node;

-- 64 shards, fixed (changing the number means moving every subscription).
CREATE TABLE shards (
    shard       integer     PRIMARY KEY,
    owner       text,
    epoch       bigint      NOT NULL DEFAULT 0,
    lease_until timestamptz NOT NULL DEFAULT '-infinity',
    acquired_at timestamptz
);
INSERT INTO shards (shard) SELECT generate_series(0, 63);

-- The sweeper finds subscriptions with due work, and each subscription's actor pages its own
-- backlog, through this index (held deliveries are in it too, for the overview's counts).
CREATE INDEX deliveries_due_by_subscription ON deliveries (subscription_id, next_attempt_at)
    WHERE status IN ('pending', 'retrying', 'paused');
DROP INDEX deliveries_unfinished_due;

-- Receivers' answers, kept losslessly: `response_body` is readable text (invalid UTF-8 and
-- NUL replaced), `response_body_base64` the exact bytes whenever the text is not them.
ALTER TABLE attempts ADD COLUMN response_headers json;
ALTER TABLE attempts ADD COLUMN response_body_base64 text;
