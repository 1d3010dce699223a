-- Flow control per subscription: a content filter (matched against each event), an own
-- retry schedule (overriding COURIER_RETRY_SCHEDULE), ordering keys on deliveries, and the
-- adaptive concurrency the owner last used (shown on the subscription).
ALTER TABLE subscriptions ADD COLUMN filter jsonb;
-- Delays in milliseconds; NULL means the server's schedule.
ALTER TABLE subscriptions ADD COLUMN retry_schedule_ms integer[];
ALTER TABLE deliveries ADD COLUMN ordering_key text;
ALTER TABLE subscription_health ADD COLUMN concurrency integer;
