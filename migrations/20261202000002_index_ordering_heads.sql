-- no-transaction
-- The head of each ordering key of a subscription: its oldest unfinished delivery.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_ordering_heads
    ON deliveries (subscription_id, ordering_key, id)
    WHERE ordering_key IS NOT NULL AND status IN ('pending', 'delivering', 'retrying', 'paused');
