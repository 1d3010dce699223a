//! Redis: the connection pool and the subscription cache. Every key starts with the
//! configured prefix, so several instances (and tests) can share one Redis.
//!
//! The cache is a fast path only. Reads fall back to Postgres when Redis is down or the
//! entry is missing; entries are keyed by version, so a change never needs to delete one; a
//! failure to talk to Redis is logged, never surfaced to the client.

use std::collections::HashMap;
use std::time::Duration;

use bb8_redis::redis::AsyncCommands;
use bb8_redis::{RedisConnectionManager, bb8};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::subscriptions::{self, SubscriptionRow};

pub type RedisPool = bb8::Pool<RedisConnectionManager>;

/// The longest a fast-path Redis call may take (checkout and answer). A connection whose peer
/// went silent (a network partition) answers nothing and errs only when the kernel gives up,
/// minutes later; past this the caller carries on without Redis, as when it is down.
pub const REDIS_CALL: Duration = Duration::from_millis(500);

/// A lazily connecting pool: the process starts even while Redis is down, and `/ready` says so.
pub fn redis_pool(url: &str, max_size: u32) -> Result<RedisPool, bb8_redis::redis::RedisError> {
    let manager = RedisConnectionManager::new(url)?;
    Ok(bb8::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(2))
        .build_unchecked(manager))
}

/// Round-trips a PING.
pub async fn ping(pool: &RedisPool) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let pong: String = bb8_redis::redis::cmd("PING")
        .query_async(&mut *conn)
        .await
        .map_err(|e| e.to_string())?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(format!("unexpected answer {pong:?}"))
    }
}

/// The subscription cache: `{prefix}sub:{id}:{version}` → the row as JSON, with a TTL. An
/// entry is written for exactly one version and never changes, so a reader that asks for the
/// version the change log names can never be served a stale row. (Secrets in the row are
/// stored sealed, as in Postgres.)
#[derive(Clone)]
pub struct SubscriptionCache {
    redis: RedisPool,
    prefix: String,
    ttl: Duration,
}

impl SubscriptionCache {
    pub fn new(redis: RedisPool, prefix: impl Into<String>, ttl: Duration) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            ttl,
        }
    }

    fn key(&self, id: Uuid, version: i64) -> String {
        format!("{}sub:{id}:{version}", self.prefix)
    }

    /// The rows at these versions (or newer): from Redis where cached, the rest from Postgres
    /// (then cached). A subscription missing from the answer is deleted.
    pub async fn get_versions(
        &self,
        db: &PgPool,
        wanted: &[(Uuid, i64)],
    ) -> Result<HashMap<Uuid, SubscriptionRow>, sqlx::Error> {
        let mut found = self.read_many(wanted).await;
        let missing: Vec<Uuid> = wanted
            .iter()
            .filter(|(id, v)| found.get(id).is_none_or(|r| r.version < *v))
            .map(|(id, _)| *id)
            .collect();
        if missing.is_empty() {
            return Ok(found);
        }
        let rows = subscriptions::get_many(db, &missing).await?;
        for row in &rows {
            self.put(row).await;
        }
        for id in &missing {
            found.remove(id);
        }
        found.extend(rows.into_iter().map(|r| (r.id, r)));
        Ok(found)
    }

    async fn read_many(&self, wanted: &[(Uuid, i64)]) -> HashMap<Uuid, SubscriptionRow> {
        let mut out = HashMap::new();
        if wanted.is_empty() {
            return out;
        }
        let keys: Vec<String> = wanted.iter().map(|(id, v)| self.key(*id, *v)).collect();
        let read = async {
            let mut conn = self.redis.get().await.ok()?;
            conn.mget::<_, Vec<Option<String>>>(&keys).await.ok()
        };
        let Ok(Some(raw)) = tokio::time::timeout(REDIS_CALL, read).await else {
            return out;
        };
        for ((id, v), value) in wanted.iter().zip(raw) {
            let row: Option<SubscriptionRow> = value.and_then(|j| serde_json::from_str(&j).ok());
            if let Some(row) = row.filter(|r| r.id == *id && r.version == *v) {
                out.insert(*id, row);
            }
        }
        out
    }

    /// Caches a row under its version.
    pub async fn put(&self, row: &SubscriptionRow) {
        let Ok(json) = serde_json::to_string(row) else {
            return;
        };
        let ttl_ms = u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let write = async {
            match self.redis.get().await {
                Ok(mut conn) => {
                    if let Err(e) = conn
                        .pset_ex::<_, _, ()>(self.key(row.id, row.version), json, ttl_ms)
                        .await
                    {
                        tracing::debug!(error = %e, "cannot cache subscription");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "redis unavailable; subscription not cached"),
            }
        };
        if tokio::time::timeout(REDIS_CALL, write).await.is_err() {
            tracing::debug!("redis did not answer in time; subscription not cached");
        }
    }

    /// The Redis pool behind the cache.
    pub fn redis(&self) -> &RedisPool {
        &self.redis
    }

    /// Whether Redis holds this version (for tests and diagnostics).
    pub async fn is_cached(&self, id: Uuid, version: i64) -> bool {
        !self.read_many(&[(id, version)]).await.is_empty()
    }
}
