//! Redis beside Postgres, per shard:
//!
//! - `{prefix}retries:{shard}`: a sorted set of pending retries, member
//!   `"{subscription_id}:{delivery_id}"`, scored by due time (epoch ms). The node that takes
//!   a shard's lease loads that set, so its retries resume on time; Postgres stays the truth
//!   and the sweeper finds anything Redis lost.
//! - `{prefix}inflight:{shard}`: a hash of attempts under way, field
//!   `"{delivery_id}:{attempt}"`, value `"{node}:{epoch}"`, written **before** the attempt is
//!   sent and cleared once its outcome is written. Whatever is still there when a node takes
//!   the shard was interrupted; those without a recorded attempt are the possible duplicates.
//!   An outcome that could not be recorded (refused for a lost lease, or dropped) clears its
//!   mark and is counted then, unless a node taking the shard got to the mark first.
//!
//! Failures here are logged and never fatal.

use std::collections::HashMap;
use std::time::Duration;

use bb8_redis::redis::{self, AsyncCommands};
use uuid::Uuid;

use crate::cache::RedisPool;
use crate::domain::{SHARDS, shard_of};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no redis connection: {0}")]
    Pool(#[from] bb8_redis::bb8::RunError<redis::RedisError>),
    #[error("redis command failed: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer in time")]
    Timeout,
}

#[derive(Clone)]
pub struct RetryStore {
    redis: RedisPool,
    prefix: String,
    node: String,
}

/// One entry: which delivery, of which subscription, due when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledRetry {
    pub subscription_id: Uuid,
    pub delivery_id: Uuid,
    pub due_ms: i64,
}

/// An attempt marked in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mark {
    pub shard: u16,
    pub delivery_id: Uuid,
    pub attempt: i32,
    pub epoch: i64,
}

/// How long a send waits for its in-flight mark before going anyway.
const MARK_TIMEOUT: Duration = Duration::from_millis(250);

impl RetryStore {
    pub fn new(redis: RedisPool, prefix: &str, node: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
            node: node.to_owned(),
        }
    }

    fn retries_key(&self, shard: u16) -> String {
        format!("{}retries:{shard}", self.prefix)
    }

    fn marks_key(&self, shard: u16) -> String {
        format!("{}inflight:{shard}", self.prefix)
    }

    /// After outcomes are written: adds retries, removes finished ones, clears marks — one
    /// pipelined round trip.
    pub async fn apply(&self, add: &[ScheduledRetry], remove: &[(Uuid, Uuid)], unmark: &[Mark]) {
        if add.is_empty() && remove.is_empty() && unmark.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for r in add {
            let member = format!("{}:{}", r.subscription_id, r.delivery_id);
            pipe.zadd(
                self.retries_key(shard_of(r.subscription_id)),
                member,
                r.due_ms,
            )
            .ignore();
        }
        for (s, d) in remove {
            pipe.zrem(self.retries_key(shard_of(*s)), format!("{s}:{d}"))
                .ignore();
        }
        for m in unmark {
            pipe.hdel(
                self.marks_key(m.shard),
                format!("{}:{}", m.delivery_id, m.attempt),
            )
            .ignore();
        }
        // Bounded: its outcomes' permits wait for it. What it misses, the sweeper finds.
        match tokio::time::timeout(crate::cache::REDIS_CALL, self.run(pipe)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot update the retry schedule in redis"),
            Err(_) => tracing::warn!("redis did not answer in time; retry schedule not updated"),
        }
    }

    async fn run(&self, pipe: redis::Pipeline) -> Result<(), StoreError> {
        let mut conn = self.redis.get().await?;
        pipe.query_async::<()>(&mut *conn).await?;
        Ok(())
    }

    /// Marks attempts as under way; `false` when Redis did not confirm in time.
    pub async fn mark(&self, marks: &[Mark]) -> bool {
        if marks.is_empty() {
            return true;
        }
        let mut pipe = redis::pipe();
        for m in marks {
            pipe.hset(
                self.marks_key(m.shard),
                format!("{}:{}", m.delivery_id, m.attempt),
                format!("{}:{}", self.node, m.epoch),
            )
            .ignore();
        }
        match tokio::time::timeout(MARK_TIMEOUT, self.run(pipe)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "cannot mark attempts in flight");
                false
            }
            Err(_) => false,
        }
    }

    /// Clears the marks of attempts whose outcome was not recorded and returns how many were
    /// still there: those no node taking their shard has counted yet. When Redis cannot say,
    /// all of them (better counted twice than not at all).
    pub async fn take_unrecorded(&self, marks: &[Mark]) -> u64 {
        if marks.is_empty() {
            return 0;
        }
        let mut pipe = redis::pipe();
        for m in marks {
            pipe.hdel(
                self.marks_key(m.shard),
                format!("{}:{}", m.delivery_id, m.attempt),
            );
        }
        let removed: Result<Vec<u64>, StoreError> = async {
            let mut conn = self.redis.get().await?;
            Ok(pipe.query_async(&mut *conn).await?)
        }
        .await;
        match removed {
            Ok(r) => r.iter().sum(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot clear in-flight marks; counting them all");
                marks.len() as u64
            }
        }
    }

    /// Takes (and clears) the marks of a shard: attempts interrupted before this node took
    /// it, as `(delivery, attempt number)`.
    pub async fn take_marks(&self, shard: u16) -> Result<Vec<(Uuid, i32)>, StoreError> {
        let mut conn = self.redis.get().await?;
        let key = self.marks_key(shard);
        let (fields,): (HashMap<String, String>,) = redis::pipe()
            .atomic()
            .hgetall(&key)
            .del(&key)
            .ignore()
            .query_async(&mut *conn)
            .await?;
        Ok(fields
            .keys()
            .filter_map(|f| {
                let (d, n) = f.split_once(':')?;
                Some((d.parse().ok()?, n.parse().ok()?))
            })
            .collect())
    }

    /// Every retry scheduled in a shard, in due order (read in pages of 10,000).
    pub async fn load_shard(&self, shard: u16) -> Result<Vec<ScheduledRetry>, StoreError> {
        let mut conn = self.redis.get().await?;
        let key = self.retries_key(shard);
        let mut out = Vec::new();
        let mut start = 0isize;
        loop {
            let page: Vec<(String, i64)> =
                conn.zrange_withscores(&key, start, start + 9_999).await?;
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

    /// Removes entries (unknown or no longer active subscriptions' retries found at load).
    pub async fn forget(&self, entries: &[ScheduledRetry]) {
        let remove: Vec<(Uuid, Uuid)> = entries
            .iter()
            .map(|r| (r.subscription_id, r.delivery_id))
            .collect();
        self.apply(&[], &remove, &[]).await;
    }

    /// Removes every retry of a subscription (it was paused, disabled or deleted: Postgres
    /// holds its deliveries).
    pub async fn forget_subscription(&self, subscription_id: Uuid) {
        let key = self.retries_key(shard_of(subscription_id));
        let result: Result<(), StoreError> = async {
            let mut conn = self.redis.get().await?;
            let pattern = format!("{subscription_id}:*");
            let members: Vec<String> = {
                let mut iter: redis::AsyncIter<(String, f64)> =
                    conn.zscan_match(&key, &pattern).await?;
                let mut v = Vec::new();
                while let Some(item) = futures_util::StreamExt::next(&mut iter).await {
                    v.push(item?.0);
                }
                v
            };
            if !members.is_empty() {
                let _: () = conn.zrem(&key, members).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, %subscription_id, "cannot remove a subscription's retries from redis");
        }
    }

    /// How many retries Redis holds, all shards together.
    pub async fn count(&self) -> Result<u64, StoreError> {
        let mut conn = self.redis.get().await?;
        let mut pipe = redis::pipe();
        for s in 0..SHARDS {
            pipe.zcard(self.retries_key(s));
        }
        let counts: Vec<u64> = pipe.query_async(&mut *conn).await?;
        Ok(counts.iter().sum())
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
