//! The retry schedule in Redis: a sorted set `{prefix}retries` of delivery ids scored by due
//! time (epoch ms), member `"{subscription_id}:{delivery_id}"`. It lets a restarted node
//! resume pending retries at once; Postgres stays the source of truth, and the sweeper
//! rebuilds anything Redis lost. Failures here are logged, never fatal.
//!
//! Beside it, the set `{prefix}inflight` marks attempts under way. What is still marked when
//! a node starts was in flight when the previous run died: those deliveries will be attempted
//! again, and are counted as possible duplicates.

use bb8_redis::redis;
use uuid::Uuid;

use crate::cache::RedisPool;

#[derive(Clone)]
pub struct RetryStore {
    redis: RedisPool,
    key: String,
    inflight_key: String,
}

/// One entry: which delivery, of which subscription, due when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledRetry {
    pub subscription_id: Uuid,
    pub delivery_id: Uuid,
    pub due_ms: i64,
}

impl RetryStore {
    pub fn new(redis: RedisPool, prefix: &str) -> Self {
        Self {
            redis,
            key: format!("{prefix}retries"),
            inflight_key: format!("{prefix}inflight"),
        }
    }

    /// Adds and removes entries in one pipelined round trip; `remove` also clears the
    /// deliveries' in-flight marks.
    pub async fn apply(&self, add: &[ScheduledRetry], remove: &[(Uuid, Uuid)]) {
        if add.is_empty() && remove.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        if !remove.is_empty() || !add.is_empty() {
            let done: Vec<String> = remove
                .iter()
                .map(|(s, d)| format!("{s}:{d}"))
                .chain(
                    add.iter()
                        .map(|r| format!("{}:{}", r.subscription_id, r.delivery_id)),
                )
                .collect();
            pipe.srem(&self.inflight_key, done).ignore();
        }
        for r in add {
            pipe.zadd(
                &self.key,
                format!("{}:{}", r.subscription_id, r.delivery_id),
                r.due_ms,
            )
            .ignore();
        }
        if !remove.is_empty() {
            let members: Vec<String> = remove.iter().map(|(s, d)| format!("{s}:{d}")).collect();
            pipe.zrem(&self.key, members).ignore();
        }
        match self.redis.get().await {
            Ok(mut conn) => {
                if let Err(e) = pipe.query_async::<()>(&mut *conn).await {
                    tracing::warn!(error = %e, "cannot update the retry schedule in redis");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "redis unavailable; retry schedule kept in postgres only")
            }
        }
    }

    /// Marks attempts as under way.
    pub async fn mark_in_flight(&self, started: &[(Uuid, Uuid)]) {
        if started.is_empty() {
            return;
        }
        let members: Vec<String> = started.iter().map(|(s, d)| format!("{s}:{d}")).collect();
        if let Ok(mut conn) = self.redis.get().await
            && let Err(e) = redis::cmd("SADD")
                .arg(&self.inflight_key)
                .arg(members)
                .query_async::<()>(&mut *conn)
                .await
        {
            tracing::debug!(error = %e, "cannot mark attempts in flight");
        }
    }

    /// Takes (and clears) the marks left by a previous run: attempts that were under way
    /// when it stopped.
    pub async fn take_in_flight(&self) -> Result<Vec<(Uuid, Uuid)>, String> {
        let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
        let (members,): (Vec<String>,) = redis::pipe()
            .atomic()
            .smembers(&self.inflight_key)
            .del(&self.inflight_key)
            .ignore()
            .query_async(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(members
            .iter()
            .filter_map(|m| parse_member(m, 0).map(|r| (r.subscription_id, r.delivery_id)))
            .collect())
    }

    /// Every scheduled retry, in due order (read in pages of 10,000).
    pub async fn load_all(&self) -> Result<Vec<ScheduledRetry>, String> {
        let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let mut start = 0isize;
        loop {
            let page: Vec<(String, i64)> = redis::cmd("ZRANGE")
                .arg(&self.key)
                .arg(start)
                .arg(start + 9_999)
                .arg("WITHSCORES")
                .query_async(&mut *conn)
                .await
                .map_err(|e| e.to_string())?;
            let n = page.len();
            out.extend(
                page.into_iter()
                    .filter_map(|(m, due_ms)| parse_member(&m, due_ms)),
            );
            if n < 10_000 {
                return Ok(out);
            }
            start += 10_000;
        }
    }

    /// How many retries Redis holds.
    pub async fn count(&self) -> Result<u64, String> {
        let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
        redis::cmd("ZCARD")
            .arg(&self.key)
            .query_async(&mut *conn)
            .await
            .map_err(|e| e.to_string())
    }
}

fn parse_member(member: &str, due_ms: i64) -> Option<ScheduledRetry> {
    let (s, d) = member.split_once(':')?;
    Some(ScheduledRetry {
        subscription_id: s.parse().ok()?,
        delivery_id: d.parse().ok()?,
        due_ms,
    })
}
