//! How nodes hear from each other. Nothing here is the record — Postgres is — so every path is
//! allowed to fail:
//!
//! - **Subscription changes.** The change's transaction `NOTIFY`s on Postgres and, after the
//!   commit, the changing node also publishes on Redis (`{prefix}changes`). Either wakes the
//!   directory's catch-up loop, which reads the change log by `seq`; and the loop checks the
//!   log's newest `seq` every [`CHECK_EVERY`] whatever it heard, so a change lost by both
//!   still arrives within that, and within seconds after a Redis or Postgres outage ends.
//! - **Work for another node.** An ingest accepted here for a shard another node holds is
//!   handed to that node on `{prefix}work:{node}` (with its payload), or as a backfill hint
//!   (operator requeues). A lost message only means the owner's sweeper finds the work; a
//!   late one (Redis was slow or cut off, and delivers what it buffered) is taken by id from
//!   Postgres, never sent again from its payload.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bb8_redis::redis;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::cache::RedisPool;
use crate::db::changes;
use crate::engine::EngineDeps;
use crate::job::DeliveryJob;
use crate::messages::{Backfill, Dispatch, Enqueue};
use crate::supervisor::Supervisor;

/// How often the directory confirms it is current, whatever it heard.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

fn changes_channel(prefix: &str) -> String {
    format!("{prefix}changes")
}

fn work_channel(prefix: &str, node: &str) -> String {
    format!("{prefix}work:{node}")
}

/// Work handed to another node.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Work {
    #[serde(default)]
    pub jobs: Vec<WireJob>,
    #[serde(default)]
    pub backfill: Vec<Uuid>,
    /// `(subscription, delivery)` an operator asked for now (retry, recover, skip).
    #[serde(default)]
    pub requeue: Vec<(Uuid, Uuid)>,
}

/// A [`DeliveryJob`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireJob {
    pub delivery_id: Uuid,
    pub message_id: Uuid,
    pub subscription_id: Uuid,
    pub event_type: String,
    pub payload: Option<String>,
    pub attempts_made: i32,
    pub attempt_base: i32,
    pub due_ms: i64,
    #[serde(default)]
    pub ordering_key: Option<String>,
}

impl From<&DeliveryJob> for WireJob {
    fn from(j: &DeliveryJob) -> Self {
        Self {
            delivery_id: j.delivery_id,
            message_id: j.message_id,
            subscription_id: j.subscription_id,
            event_type: j.event_type.to_string(),
            payload: j.payload.as_deref().map(str::to_owned),
            attempts_made: j.attempts_made,
            attempt_base: j.attempt_base,
            due_ms: j.due_ms,
            ordering_key: j.ordering_key.as_deref().map(str::to_owned),
        }
    }
}

impl From<WireJob> for DeliveryJob {
    fn from(j: WireJob) -> Self {
        Self {
            delivery_id: j.delivery_id,
            message_id: j.message_id,
            subscription_id: j.subscription_id,
            event_type: Arc::from(j.event_type),
            payload: j.payload.map(Arc::from),
            attempts_made: j.attempts_made,
            attempt_base: j.attempt_base,
            due_ms: j.due_ms,
            ordering_key: j.ordering_key.map(Arc::from),
        }
    }
}

/// Publishes on Redis, logging (never failing) when it cannot.
pub async fn publish(redis: &RedisPool, channel: String, payload: String) {
    let send = async {
        let Ok(mut conn) = redis.get().await else {
            tracing::debug!(%channel, "redis unavailable; the receivers catch up by themselves");
            return;
        };
        let sent: Result<(), _> = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(&mut *conn)
            .await;
        if let Err(e) = sent {
            tracing::debug!(error = %e, %channel, "cannot publish");
        }
    };
    if tokio::time::timeout(crate::cache::REDIS_CALL, send)
        .await
        .is_err()
    {
        tracing::debug!("redis did not answer in time; the receivers catch up by themselves");
    }
}

/// Wakes the other nodes' directories after a committed change.
pub async fn announce_change(deps: &EngineDeps, seq: i64) {
    let c = &deps.config;
    publish(
        deps.cache.redis(),
        changes_channel(&c.redis_prefix),
        seq.to_string(),
    )
    .await;
}

/// Hands work to the node holding its shard.
pub async fn hand_over(deps: &EngineDeps, node: &str, work: &Work) {
    let Ok(payload) = serde_json::to_string(work) else {
        return;
    };
    publish(
        deps.cache.redis(),
        work_channel(&deps.config.redis_prefix, node),
        payload,
    )
    .await;
}

/// Starts the listeners and the catch-up loop.
pub fn start(deps: Arc<EngineDeps>, supervisor: Addr<Supervisor>) {
    let wake = Arc::new(Notify::new());
    actix::spawn(listen_postgres(deps.db.clone(), wake.clone()));
    actix::spawn(listen_redis(deps.clone(), supervisor, wake.clone()));
    actix::spawn(catch_up_loop(deps, wake));
}

async fn catch_up_loop(deps: Arc<EngineDeps>, wake: Arc<Notify>) {
    loop {
        let _ = tokio::time::timeout(CHECK_EVERY, wake.notified()).await;
        match changes::bounds(&deps.db).await {
            Ok((max, _)) if max <= deps.directory.seq() => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "cannot check the change log");
                continue;
            }
        }
        match deps.directory.catch_up(&deps.db, &deps.cache).await {
            Ok(applied) if !applied.is_empty() => deps.note_applied(applied),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read subscription changes; retrying"),
        }
    }
}

async fn listen_postgres(db: PgPool, wake: Arc<Notify>) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&db).await {
            Ok(listener) => {
                let mut guard = ListenerGuard(Some(listener));
                if let Some(listener) = guard.0.as_mut()
                    && listener.listen(changes::CHANNEL).await.is_ok()
                {
                    wake.notify_one();
                    while listener.recv().await.is_ok() {
                        wake.notify_one();
                    }
                }
                tracing::debug!("lost the postgres change channel; reconnecting");
            }
            Err(e) => tracing::debug!(error = %e, "cannot listen on postgres; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Drops a `PgListener` only inside a runtime: its `Drop` spawns a task, which panics when
/// the runtime is already being torn down (the process is ending, so the connection can go
/// with it).
struct ListenerGuard(Option<sqlx::postgres::PgListener>);

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        if let Some(listener) = self.0.take()
            && tokio::runtime::Handle::try_current().is_err()
        {
            std::mem::forget(listener);
        }
    }
}

async fn listen_redis(deps: Arc<EngineDeps>, supervisor: Addr<Supervisor>, wake: Arc<Notify>) {
    let c = &deps.config;
    let channels = [
        changes_channel(&c.redis_prefix),
        work_channel(&c.redis_prefix, &c.node_id),
    ];
    loop {
        match subscribe(&c.redis_url, &channels).await {
            Ok(pubsub) => {
                wake.notify_one();
                let mut messages = pubsub.into_on_message();
                while let Some(msg) = messages.next().await {
                    if msg.get_channel_name() == channels[0] {
                        wake.notify_one();
                    } else {
                        let payload: String = msg.get_payload().unwrap_or_default();
                        take_work(&supervisor, &payload);
                    }
                }
                tracing::debug!("lost the redis feed; reconnecting");
            }
            Err(e) => tracing::debug!(error = %e, "cannot subscribe on redis; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A handed-over job older than this is taken by id, from Postgres: this node's sweeper may
/// have found and delivered it meanwhile, and its payload would send it again. (Younger than
/// this, a delivery already written here is still remembered by its actor:
/// [`crate::subscription::core::RECENT`] is longer, by a margin for clocks apart.)
pub const FRESH_HAND_OVER_MS: i64 = 1_000;

/// Stale handed-over jobs by subscription: `(delivery id, due ms)`.
pub type StaleJobs = HashMap<Uuid, Vec<(Uuid, i64)>>;

/// Splits handed-over jobs into those fresh enough to send as they are and, by
/// subscription, the ids of the stale ones.
pub fn split_stale(jobs: Vec<WireJob>, now_ms: i64) -> (Vec<DeliveryJob>, StaleJobs) {
    let mut stale = StaleJobs::new();
    let mut fresh = Vec::new();
    for job in jobs {
        // Its age counts from the message's acceptance (the id's UUIDv7 time): a node that
        // froze between commit and hand-over sends it late with a fresh due time.
        let accepted_ms = job
            .message_id
            .get_timestamp()
            .and_then(|t| i64::try_from(t.to_unix().0).ok())
            .map_or(job.due_ms, |secs| secs * 1000)
            .min(job.due_ms);
        if now_ms - accepted_ms > FRESH_HAND_OVER_MS {
            stale
                .entry(job.subscription_id)
                .or_default()
                .push((job.delivery_id, job.due_ms));
        } else {
            fresh.push(DeliveryJob::from(job));
        }
    }
    (fresh, stale)
}

fn take_work(supervisor: &Addr<Supervisor>, payload: &str) {
    let Ok(work) = serde_json::from_str::<Work>(payload) else {
        tracing::warn!("unreadable work message; ignored (the sweeper finds the work)");
        return;
    };
    let (fresh, stale) = split_stale(work.jobs, chrono::Utc::now().timestamp_millis());
    if !fresh.is_empty() {
        supervisor.do_send(Dispatch {
            jobs: fresh,
            from_peer: true,
        });
    }
    let now = chrono::Utc::now().timestamp_millis();
    for (subscription_id, id) in work.requeue {
        supervisor.do_send(Enqueue {
            subscription_id,
            deliveries: vec![(id, now)],
            force: true,
            from_peer: true,
        });
    }
    for (subscription_id, deliveries) in stale {
        supervisor.do_send(Enqueue {
            subscription_id,
            deliveries,
            force: false,
            from_peer: true,
        });
    }
    if !work.backfill.is_empty() {
        supervisor.do_send(Backfill {
            subscriptions: work.backfill,
            from_peer: true,
        });
    }
}

async fn subscribe(url: &str, channels: &[String]) -> redis::RedisResult<redis::aio::PubSub> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    for ch in channels {
        pubsub.subscribe(ch).await?;
    }
    Ok(pubsub)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(due_ms: i64) -> WireJob {
        WireJob {
            delivery_id: Uuid::now_v7(),
            message_id: Uuid::now_v7(),
            subscription_id: Uuid::nil(),
            event_type: "a.b".into(),
            payload: Some("{}".into()),
            attempts_made: 0,
            attempt_base: 0,
            due_ms,
            ordering_key: None,
        }
    }

    #[test]
    fn a_late_hand_over_is_taken_by_id_not_sent_from_its_payload() {
        let now = chrono::Utc::now().timestamp_millis();
        let mut frozen = wire(now);
        frozen.message_id = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(now / 1000 - 6).unwrap_or(0),
            0,
        ));
        let (fresh, stale) = split_stale(vec![wire(now - 10), wire(now - 5_000), frozen], now);
        assert_eq!(fresh.len(), 1, "a fresh job keeps its payload");
        assert_eq!(
            stale[&Uuid::nil()].len(),
            2,
            "a late one is loaded from Postgres, also when its due time is fresh but its message is not"
        );
        assert!(
            FRESH_HAND_OVER_MS
                < i64::try_from(crate::subscription::core::RECENT.as_millis()).unwrap_or(0),
            "the owner remembers a written delivery for longer than a hand-over counts as fresh"
        );
    }
}
