//! Subscription changes across nodes. A node that changes a subscription updates its own
//! directory at once and publishes the id on the Redis channel `{prefix}changes`; every other
//! node re-reads that subscription from Postgres into its directory and tells its actors.
//! A missed message (Redis down) is not fatal: the cached copy expires after
//! `COURIER_CACHE_TTL` and nodes reload their directory on restart.

use std::time::Duration;

use bb8_redis::redis;
use futures_util::StreamExt as _;
use uuid::Uuid;

use crate::cache::RedisPool;

/// The channel changes go out on.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}changes")
}

/// Publishes that `id` changed, tagged with the node it came from (which ignores it).
pub async fn publish(redis: &RedisPool, prefix: &str, node: &str, id: Uuid) {
    let Ok(mut conn) = redis.get().await else {
        tracing::warn!(%id, "redis unavailable; other nodes learn of this change when their cache expires");
        return;
    };
    let sent: Result<(), _> = redis::cmd("PUBLISH")
        .arg(channel(prefix))
        .arg(format!("{node} {id}"))
        .query_async(&mut *conn)
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, %id, "cannot publish a subscription change");
    }
}

/// Parses `"{node} {id}"`, keeping only other nodes' changes.
pub fn parse(payload: &str, me: &str) -> Option<Uuid> {
    let (node, id) = payload.split_once(' ')?;
    (node != me).then(|| id.parse().ok()).flatten()
}

/// Listens for other nodes' changes until the process ends, reconnecting after errors, and
/// calls `apply` with each changed id.
pub async fn listen<F, Fut>(redis_url: String, prefix: String, me: String, apply: F)
where
    F: Fn(Uuid) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let channel = channel(&prefix);
    loop {
        match subscribe(&redis_url, &channel).await {
            Ok(pubsub) => {
                let mut messages = pubsub.into_on_message();
                while let Some(msg) = messages.next().await {
                    let payload: String = msg.get_payload().unwrap_or_default();
                    if let Some(id) = parse(&payload, &me) {
                        apply(id).await;
                    }
                }
                tracing::warn!("lost the subscription-change feed; reconnecting");
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot listen for subscription changes; retrying")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn subscribe(url: &str, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_node_ignores_its_own_changes() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(parse(&format!("a {id}"), "b"), Some(id));
        assert_eq!(parse(&format!("a {id}"), "a"), None);
        assert_eq!(parse("garbage", "a"), None);
        assert_eq!(parse("a not-a-uuid", "b"), None);
    }
}
