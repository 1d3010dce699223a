-- no-transaction
-- Built without blocking writes (CONCURRENTLY cannot run inside a transaction, hence the
-- directive above; one statement per file for the same reason): an application's
-- subscriptions, newest first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS subscriptions_live_by_application
    ON subscriptions (application_id, id DESC) WHERE deleted_at IS NULL;
