-- no-transaction
-- An application's delivery log, newest first; built without blocking ingests.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_by_application
    ON deliveries (application_id, id DESC);
