//! Redis: the connection pool and the subscription cache. Every key starts with the
//! configured prefix, so several instances (and tests) can share one Redis.
//!
//! The cache is a fast path only. Reads fall back to Postgres when Redis is down or the
//! entry is missing; writes that change a subscription delete its entry at once; a failure
//! to talk to Redis is logged, never surfaced to the client.

use std::time::Duration;

use bb8_redis::redis::AsyncCommands;
use bb8_redis::{RedisConnectionManager, bb8};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::subscriptions::{self, SubscriptionRow};

pub type RedisPool = bb8::Pool<RedisConnectionManager>;

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

/// The subscription cache: `{prefix}sub:{id}` → the row as JSON, with a TTL.
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

    fn key(&self, id: Uuid) -> String {
        format!("{}sub:{id}", self.prefix)
    }

    /// The live subscription, from Redis when cached, else from Postgres (then cached).
    pub async fn get(&self, db: &PgPool, id: Uuid) -> Result<Option<SubscriptionRow>, sqlx::Error> {
        if let Some(row) = self.read(id).await {
            return Ok(Some(row));
        }
        let row = subscriptions::get(db, id).await?;
        if let Some(row) = &row {
            self.put(row).await;
        }
        Ok(row)
    }

    async fn read(&self, id: Uuid) -> Option<SubscriptionRow> {
        let mut conn = self.redis.get().await.ok()?;
        let raw: Option<String> = conn.get(self.key(id)).await.ok()?;
        serde_json::from_str(&raw?).ok()
    }

    pub async fn put(&self, row: &SubscriptionRow) {
        let Ok(json) = serde_json::to_string(row) else {
            return;
        };
        let ttl_ms = u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        match self.redis.get().await {
            Ok(mut conn) => {
                if let Err(e) = conn
                    .pset_ex::<_, _, ()>(self.key(row.id), json, ttl_ms)
                    .await
                {
                    tracing::warn!(error = %e, "cannot cache subscription");
                }
            }
            Err(e) => tracing::warn!(error = %e, "redis unavailable; subscription not cached"),
        }
    }

    /// Drops the cached copy; called by every change to the subscription.
    pub async fn invalidate(&self, id: Uuid) {
        match self.redis.get().await {
            Ok(mut conn) => {
                if let Err(e) = conn.del::<_, ()>(self.key(id)).await {
                    tracing::warn!(error = %e, %id, "cannot invalidate cached subscription");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, %id, "redis unavailable; cache entry left to expire")
            }
        }
    }

    /// The Redis pool behind the cache.
    pub fn redis(&self) -> &RedisPool {
        &self.redis
    }

    /// Whether Redis currently holds an entry (for tests and diagnostics).
    pub async fn is_cached(&self, id: Uuid) -> bool {
        self.read(id).await.is_some()
    }
}
