//! The PersistenceActor: every write on the hot path goes through it, in batches.
//!
//! - Ingests are group-committed: requests that arrive while a commit is running wait for the
//!   next one, so under load many requests share one transaction (at most
//!   `MAX_INGEST_COMMITS` run at once). A request is answered only after its commit.
//! - Attempt logs and delivery status changes are buffered and written one batch at a time,
//!   in arrival order (so a delivery's later state is never overwritten by an earlier one),
//!   with the Redis retry schedule updated after each batch.
//!
//! - Attempts about to be sent are marked in flight in Redis ([`AttemptStarted`]).
//!
//! Takes: [`Ingest`], [`RecordOutcome`], [`AttemptStarted`], [`Flush`]. Sends: nothing.
//! Must never: answer an ingest before its commit, or drop an outcome because Postgres
//! failed (the batch is kept and retried).

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::db::deliveries::{self, AttemptRecord, StatusUpdate};
use crate::db::messages::{self, IngestItem, IngestResult};
use crate::domain::DeliveryStatus;
use crate::messages::{AttemptStarted, Flush, Ingest, RecordOutcome};
use crate::retry_store::{RetryStore, ScheduledRetry};

/// Concurrent ingest transactions; more requests than this wait and share the next commits.
const MAX_INGEST_COMMITS: usize = 4;
/// The most ingests in one transaction.
const MAX_INGEST_BATCH: usize = 2_000;
/// The most outcomes in one transaction.
const MAX_OUTCOME_BATCH: usize = 5_000;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PersistError {
    #[error("postgres is unavailable: {0}")]
    Unavailable(String),
    #[error("the write failed: {0}")]
    Failed(String),
    #[error("the persistence actor stopped")]
    Stopped,
}

impl PersistError {
    fn from_sqlx(e: &sqlx::Error) -> Self {
        if crate::db::is_unavailable(e) {
            Self::Unavailable(e.to_string())
        } else {
            Self::Failed(e.to_string())
        }
    }
}

type Reply = oneshot::Sender<Result<IngestResult, PersistError>>;

pub struct PersistenceActor {
    db: PgPool,
    retry_store: RetryStore,
    idempotency_ttl_secs: f64,
    ingests: Vec<(IngestItem, Reply)>,
    ingest_commits: usize,
    outcomes: Vec<RecordOutcome>,
    writing_outcomes: bool,
    started: Vec<(Uuid, Uuid)>,
    marking: bool,
    /// Redis schedule updates under way (a `Flush` waits for them too).
    schedule_updates: usize,
    flush_waiters: Vec<oneshot::Sender<()>>,
}

impl PersistenceActor {
    pub fn new(db: PgPool, retry_store: RetryStore, idempotency_ttl: Duration) -> Self {
        Self {
            db,
            retry_store,
            idempotency_ttl_secs: idempotency_ttl.as_secs_f64(),
            ingests: Vec::new(),
            ingest_commits: 0,
            outcomes: Vec::new(),
            writing_outcomes: false,
            started: Vec::new(),
            marking: false,
            schedule_updates: 0,
            flush_waiters: Vec::new(),
        }
    }

    fn commit_ingests(&mut self, ctx: &mut Context<Self>) {
        while self.ingest_commits < MAX_INGEST_COMMITS && !self.ingests.is_empty() {
            let n = self.ingests.len().min(MAX_INGEST_BATCH);
            let (items, replies): (Vec<IngestItem>, Vec<Reply>) = self.ingests.drain(..n).unzip();
            self.ingest_commits += 1;
            let (db, ttl) = (self.db.clone(), self.idempotency_ttl_secs);
            let fut = async move { messages::insert_batch(&db, &items, ttl).await };
            ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
                act.ingest_commits -= 1;
                match result {
                    Ok(results) => replies
                        .into_iter()
                        .zip(results)
                        .for_each(|(r, res)| drop(r.send(Ok(res)))),
                    Err(e) => {
                        tracing::warn!(error = %e, batch = n, "ingest commit failed");
                        let err = PersistError::from_sqlx(&e);
                        replies
                            .into_iter()
                            .for_each(|r| drop(r.send(Err(err.clone()))));
                    }
                }
                act.commit_ingests(ctx);
            }));
        }
    }

    fn write_outcomes(&mut self, ctx: &mut Context<Self>) {
        if self.writing_outcomes {
            return;
        }
        if self.outcomes.is_empty() {
            self.answer_flushes();
            return;
        }
        let n = self.outcomes.len().min(MAX_OUTCOME_BATCH);
        let batch: Vec<RecordOutcome> = self.outcomes.drain(..n).collect();
        self.writing_outcomes = true;
        let db = self.db.clone();
        let fut = async move {
            let result = write_batch(&db, &batch).await;
            (result, batch)
        };
        ctx.spawn(fut.into_actor(self).map(|(result, batch), act, ctx| {
            act.writing_outcomes = false;
            match result {
                Ok((add, remove)) => {
                    let store = act.retry_store.clone();
                    act.schedule_updates += 1;
                    ctx.spawn(async move { store.apply(&add, &remove).await }.into_actor(act).map(
                        |(), act, _| {
                            act.schedule_updates -= 1;
                            act.answer_flushes();
                        },
                    ));
                    act.write_outcomes(ctx);
                }
                Err(e) => {
                    tracing::warn!(error = %e, batch = batch.len(), "cannot write attempt outcomes; retrying in 1s");
                    let rest = std::mem::replace(&mut act.outcomes, batch);
                    act.outcomes.extend(rest);
                    ctx.run_later(Duration::from_secs(1), |act, ctx| act.write_outcomes(ctx));
                }
            }
        }));
    }
}

impl PersistenceActor {
    /// Answers the waiting `Flush`es once nothing is buffered or being written.
    fn answer_flushes(&mut self) {
        if self.outcomes.is_empty() && !self.writing_outcomes && self.schedule_updates == 0 {
            for w in self.flush_waiters.drain(..) {
                let _ = w.send(());
            }
        }
    }

    fn write_marks(&mut self, ctx: &mut Context<Self>) {
        if self.marking || self.started.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.started);
        self.marking = true;
        let store = self.retry_store.clone();
        let fut = async move { store.mark_in_flight(&batch).await };
        ctx.spawn(fut.into_actor(self).map(|(), act, ctx| {
            act.marking = false;
            act.write_marks(ctx);
        }));
    }
}

/// Writes one batch to Postgres: its attempts and the latest update per delivery. Returns
/// the Redis schedule changes it implies (applied separately, so a slow Redis never holds
/// up the log).
async fn write_batch(
    db: &PgPool,
    batch: &[RecordOutcome],
) -> Result<(Vec<ScheduledRetry>, Vec<(Uuid, Uuid)>), sqlx::Error> {
    let attempts: Vec<AttemptRecord> = batch.iter().map(|o| o.attempt.clone()).collect();
    let mut latest: HashMap<Uuid, (usize, &StatusUpdate)> = HashMap::new();
    for (i, o) in batch.iter().enumerate() {
        latest.insert(o.update.id, (i, &o.update));
    }
    let mut updates: Vec<(usize, &StatusUpdate)> = latest.into_values().collect();
    updates.sort_by_key(|(i, _)| *i);
    let updates: Vec<StatusUpdate> = updates.into_iter().map(|(_, u)| u.clone()).collect();
    deliveries::apply_outcomes(db, &attempts, &updates).await?;
    let add: Vec<ScheduledRetry> = batch.iter().filter_map(|o| o.schedule).collect();
    let remove: Vec<(Uuid, Uuid)> = batch
        .iter()
        .filter(|o| o.update.status != DeliveryStatus::Retrying)
        .map(|o| (o.subscription_id, o.update.id))
        .collect();
    Ok((add, remove))
}

impl Actor for PersistenceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1_000_000);
    }
}

impl Handler<Ingest> for PersistenceActor {
    type Result = ResponseFuture<Result<IngestResult, PersistError>>;

    fn handle(&mut self, msg: Ingest, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.ingests.push((msg.0, tx));
        self.commit_ingests(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(PersistError::Stopped)) })
    }
}

impl Handler<RecordOutcome> for PersistenceActor {
    type Result = ();

    fn handle(&mut self, msg: RecordOutcome, ctx: &mut Self::Context) {
        self.outcomes.push(msg);
        self.write_outcomes(ctx);
    }
}

impl Handler<AttemptStarted> for PersistenceActor {
    type Result = ();

    fn handle(&mut self, msg: AttemptStarted, ctx: &mut Self::Context) {
        self.started.push((msg.subscription_id, msg.delivery_id));
        self.write_marks(ctx);
    }
}

impl Handler<Flush> for PersistenceActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Flush, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.flush_waiters.push(tx);
        self.write_outcomes(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
