//! Shard leases and node membership: the SQL of [`crate::ownership`].
//!
//! A node owns a shard while `owner` is its id and `lease_until` is in the future (by
//! Postgres' clock, the only clock every node shares). Renewal keeps the epoch; a takeover
//! (of an expired or released lease) increases it, and every outcome write checks the epoch,
//! so a previous owner can no longer record anything.

use sqlx::PgPool;

/// One lease this node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseRow {
    pub shard: i32,
    pub epoch: i64,
}

/// Records that `node` is alive; returns how many nodes are alive (heartbeat within `ttl`).
pub async fn heartbeat(pool: &PgPool, node: &str, ttl_secs: f64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "WITH beat AS (INSERT INTO nodes (node_id) VALUES ($1) \
           ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now() RETURNING node_id) \
         SELECT count(*) + 1 FROM nodes WHERE node_id <> $1 \
           AND heartbeat_at > now() - make_interval(secs => $2)",
    )
    .bind(node)
    .bind(ttl_secs)
    .fetch_one(pool)
    .await
}

/// Extends the leases `node` still holds (same epoch, not yet expired); returns them.
pub async fn renew(
    pool: &PgPool,
    node: &str,
    held: &[LeaseRow],
    ttl_secs: f64,
) -> Result<Vec<LeaseRow>, sqlx::Error> {
    if held.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "UPDATE shards s SET lease_until = now() + make_interval(secs => $4) \
         FROM UNNEST($2::int[], $3::bigint[]) AS h(shard, epoch) \
         WHERE s.shard = h.shard AND s.epoch = h.epoch AND s.owner = $1 AND s.lease_until > now() \
         RETURNING s.shard, s.epoch",
    )
    .bind(node)
    .bind(held.iter().map(|l| l.shard).collect::<Vec<_>>())
    .bind(held.iter().map(|l| l.epoch).collect::<Vec<_>>())
    .bind(ttl_secs)
    .fetch_all(pool)
    .await
}

/// Takes up to `n` shards whose lease ended at least `expired_secs` ago — and, with
/// `reclaim`, those still leased to `node` itself — each with a new epoch (this node's
/// former shards first). `reclaim` is only for a process that holds the node's identity
/// lock: the process that held those leases before it is gone.
pub async fn acquire(
    pool: &PgPool,
    node: &str,
    n: i64,
    ttl_secs: f64,
    expired_secs: f64,
    reclaim: bool,
) -> Result<Vec<LeaseRow>, sqlx::Error> {
    if n <= 0 {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "UPDATE shards SET owner = $1, epoch = epoch + 1, acquired_at = now(), \
           lease_until = now() + make_interval(secs => $3) \
         WHERE shard IN (SELECT shard FROM shards \
           WHERE lease_until <= now() - make_interval(secs => $4) OR ($5 AND owner = $1) \
           ORDER BY (owner IS NOT DISTINCT FROM $1) DESC, shard FOR UPDATE SKIP LOCKED LIMIT $2) \
         RETURNING shard, epoch",
    )
    .bind(node)
    .bind(n)
    .bind(ttl_secs)
    .bind(expired_secs)
    .bind(reclaim)
    .fetch_all(pool)
    .await
}

/// Gives leases up. They end now, so the node below its fair share takes them at its next
/// tick; only after two more ticks may a node already at its share take them (as it may any
/// lease that ran out), so nodes at their share do not pass released shards back and forth.
pub async fn release(pool: &PgPool, node: &str, leases: &[LeaseRow]) -> Result<u64, sqlx::Error> {
    if leases.is_empty() {
        return Ok(0);
    }
    Ok(sqlx::query(
        "UPDATE shards s SET lease_until = now() \
         FROM UNNEST($2::int[], $3::bigint[]) AS h(shard, epoch) \
         WHERE s.shard = h.shard AND s.epoch = h.epoch AND s.owner = $1",
    )
    .bind(node)
    .bind(leases.iter().map(|l| l.shard).collect::<Vec<_>>())
    .bind(leases.iter().map(|l| l.epoch).collect::<Vec<_>>())
    .execute(pool)
    .await?
    .rows_affected())
}

/// `(shard, owner)` of every shard whose lease is live: where to forward work.
pub async fn owners(pool: &PgPool) -> Result<Vec<(i32, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT shard, owner FROM shards WHERE lease_until > now() AND owner IS NOT NULL",
    )
    .fetch_all(pool)
    .await
}

/// Takes the session-level advisory lock that says "a process runs as `node`"; it ends with
/// the connection (so with the process). `false` when another live process holds it.
pub async fn lock_identity(conn: &mut sqlx::PgConnection, node: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended('courier-node:' || $1, 0))")
        .bind(node)
        .fetch_one(conn)
        .await
}
