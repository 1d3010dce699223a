//! Batched start-up reads of `subscription_health`. Every SubscriptionActor reads its failing
//! streak before it sends anything; when one event fans out to 100,000 subscriptions, 100,000
//! actors start at once. Reading one row each would queue 100,000 query futures (each a few
//! KiB while it waits for a pooled connection); instead each actor hands its id to
//! [`HealthReads`] and awaits a oneshot, and one task reads up to [`BATCH`] of them per
//! query ([`crate::db::health::get_many`]).
//!
//! Must never: answer a subscription with another's health, answer `Ok` for a read that
//! failed (the actor retries), or hold a waiter after its batch (every sender is answered or
//! dropped, so every waiter wakes).

use std::collections::HashMap;

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::db::health::{Health, get_many};

/// Ids read per query.
pub const BATCH: usize = 1_000;

type Request = (Uuid, oneshot::Sender<Result<Health, ReadFailed>>);

/// The health read failed (Postgres away); the caller tries again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot read subscription health")]
pub struct ReadFailed;

/// Where actors ask for their health. Cheap to clone.
#[derive(Clone)]
pub struct HealthReads {
    tx: mpsc::UnboundedSender<Request>,
}

impl HealthReads {
    /// Starts the reading task on the current actix runtime.
    pub fn start(db: PgPool) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        actix::spawn(run(db, rx));
        Self { tx }
    }

    /// The health of `id` as Postgres has it (healthy if it has no row).
    pub fn get(&self, id: Uuid) -> impl Future<Output = Result<Health, ReadFailed>> + use<> {
        let (reply, rx) = oneshot::channel();
        let sent = self.tx.send((id, reply)).is_ok();
        async move {
            if !sent {
                return Err(ReadFailed);
            }
            rx.await.unwrap_or(Err(ReadFailed))
        }
    }
}

async fn run(db: PgPool, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // An actor that stopped meanwhile no longer waits.
        batch.retain(|(_, reply)| !reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let ids: Vec<Uuid> = batch.iter().map(|(id, _)| *id).collect();
        let found = get_many(&db, &ids).await;
        answer(batch.drain(..), found);
    }
}

/// Answers every waiter of a batch from what the query returned.
fn answer(batch: impl Iterator<Item = Request>, found: Result<Vec<(Uuid, Health)>, sqlx::Error>) {
    match found {
        Ok(rows) => {
            let by_id: HashMap<Uuid, Health> = rows.into_iter().collect();
            for (id, reply) in batch {
                let _ = reply.send(Ok(by_id.get(&id).copied().unwrap_or_default()));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read subscription health; the actors retry");
            for (_, reply) in batch {
                let _ = reply.send(Err(ReadFailed));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_waiter_gets_its_own_health_and_missing_rows_are_healthy() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let failing = Health {
            failing_since: Some(chrono::Utc::now()),
            consecutive_failures: 3,
        };
        let (ta, ra) = oneshot::channel();
        let (tb, rb) = oneshot::channel();
        answer(vec![(a, ta), (b, tb)].into_iter(), Ok(vec![(a, failing)]));
        assert_eq!(ra.blocking_recv().expect("answered"), Ok(failing));
        assert_eq!(rb.blocking_recv().expect("answered"), Ok(Health::default()));
    }

    #[test]
    fn a_failed_read_answers_every_waiter_with_an_error() {
        let (t, r) = oneshot::channel();
        answer(
            vec![(Uuid::now_v7(), t)].into_iter(),
            Err(sqlx::Error::PoolTimedOut),
        );
        assert_eq!(r.blocking_recv().expect("answered"), Err(ReadFailed));
    }
}
