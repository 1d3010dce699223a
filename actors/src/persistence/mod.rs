//! The PersistenceActor: every write on the hot path goes through it, in batches.
//!
//! - Ingests are group-committed: requests that arrive while a commit runs wait for the next
//!   one (at most [`MAX_INGEST_COMMITS`] at once, at most [`MAX_WAITING_INGESTS`] waiting —
//!   beyond that an ingest is refused at once as overloaded, answered 503). A request is
//!   answered only after its commit; an item Postgres refuses is answered alone
//!   ([`ingest`]).
//! - Attempt outcomes are written one batch at a time, in arrival order, fenced by lease
//!   epoch ([`outcomes`]); each `RecordOutcome` resolves when its batch is written, and
//!   releases the node-wide attempt permit it carries then, so unwritten outcomes never
//!   outnumber the permits. An unavailable Postgres is retried with exponential backoff.
//! - Attempts about to be sent are marked in flight in Redis, in batches ([`MarkInFlight`]).
//!
//! Takes: [`Ingest`], [`RecordOutcome`], [`MarkInFlight`], [`Flush`]. Sends: nothing.
//! Must never: answer an ingest before its commit, let one item fail a batch, or drop an
//! outcome because Postgres was down.

pub mod ingest;
pub mod outcomes;

use std::collections::VecDeque;
use std::sync::Arc;

use actix::prelude::*;
use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::db::messages::{IngestItem, IngestResult};
use crate::domain::DeliveryStatus;
use crate::messages::{Flush, Ingest, MarkInFlight, RecordOutcome};
use crate::retry_store::{Mark, RetryStore, ScheduledRetry};

/// Concurrent ingest transactions; more requests than this wait and share the next commits.
const MAX_INGEST_COMMITS: usize = 4;
/// The most ingests in one transaction.
const MAX_INGEST_BATCH: usize = 2_000;
/// The most ingests waiting for a commit; past it, new ones are refused (503).
pub const MAX_WAITING_INGESTS: usize = 20_000;
/// The most outcomes in one transaction.
const MAX_OUTCOME_BATCH: usize = 5_000;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("postgres is unavailable")]
    Unavailable(#[source] Arc<sqlx::Error>),
    #[error("too many ingests are waiting for a commit")]
    Overloaded,
    #[error("postgres refused this item: {0}")]
    Rejected(String),
    #[error("the write failed")]
    Failed(#[source] Arc<sqlx::Error>),
    #[error("the persistence actor stopped")]
    Stopped,
}

impl IngestError {
    pub fn from_sqlx(e: Arc<sqlx::Error>) -> Self {
        if crate::db::is_unavailable(&e) {
            Self::Unavailable(e)
        } else {
            Self::Failed(e)
        }
    }
}

type Reply = oneshot::Sender<Result<IngestResult, IngestError>>;

pub struct PersistenceActor {
    db: PgPool,
    node: String,
    retry_store: RetryStore,
    idempotency_ttl_secs: f64,
    ingests: VecDeque<(IngestItem, Reply)>,
    ingest_commits: usize,
    outcomes: VecDeque<(RecordOutcome, oneshot::Sender<()>)>,
    writing: bool,
    backoff: outcomes::Backoff,
    marks: Vec<(Mark, oneshot::Sender<()>)>,
    marking: bool,
    /// Outcomes received so far: each `Flush` waits for the ones received before it.
    received: u64,
    /// Outcomes written to Postgres (in order: batches are written one at a time).
    written: u64,
    /// Written batches by the count they end at, and whether their Redis updates are done
    /// (those run concurrently and may finish out of order).
    settling: VecDeque<(u64, bool)>,
    /// Every outcome counted below this is written and its Redis updates are done.
    settled: u64,
    /// `Flush`es, each with the count it waits for.
    flush_waiters: Vec<(u64, oneshot::Sender<()>)>,
}

impl PersistenceActor {
    pub fn new(
        db: PgPool,
        node: String,
        retry_store: RetryStore,
        ttl: std::time::Duration,
    ) -> Self {
        Self {
            db,
            node,
            retry_store,
            idempotency_ttl_secs: ttl.as_secs_f64(),
            ingests: VecDeque::new(),
            ingest_commits: 0,
            outcomes: VecDeque::new(),
            writing: false,
            backoff: outcomes::Backoff::default(),
            marks: Vec::new(),
            marking: false,
            received: 0,
            written: 0,
            settling: VecDeque::new(),
            settled: 0,
            flush_waiters: Vec::new(),
        }
    }

    fn commit_ingests(&mut self, ctx: &mut Context<Self>) {
        while self.ingest_commits < MAX_INGEST_COMMITS && !self.ingests.is_empty() {
            let n = self.ingests.len().min(MAX_INGEST_BATCH);
            let (items, replies): (Vec<IngestItem>, Vec<Reply>) = self.ingests.drain(..n).unzip();
            self.ingest_commits += 1;
            let (db, ttl) = (self.db.clone(), self.idempotency_ttl_secs);
            let fut = async move { ingest::commit(&db, &items, ttl).await };
            ctx.spawn(fut.into_actor(self).map(move |results, act, ctx| {
                act.ingest_commits -= 1;
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
                act.commit_ingests(ctx);
            }));
        }
    }

    fn write_outcomes(&mut self, ctx: &mut Context<Self>) {
        if self.writing {
            return;
        }
        if self.outcomes.is_empty() {
            self.answer_flushes();
            return;
        }
        let n = self.outcomes.len().min(MAX_OUTCOME_BATCH);
        let batch: Vec<(RecordOutcome, oneshot::Sender<()>)> = self.outcomes.drain(..n).collect();
        let rows: Vec<_> = batch.iter().map(|(o, _)| o.row.clone()).collect();
        self.writing = true;
        let (db, node) = (self.db.clone(), self.node.clone());
        let fut = async move { outcomes::write(&db, &node, &rows).await };
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            act.writing = false;
            match result {
                Ok(written) => {
                    act.backoff.reset();
                    act.written += batch.len() as u64;
                    act.after_write(batch, written, ctx);
                    act.write_outcomes(ctx);
                }
                Err(e) => {
                    let wait = act.backoff.next_wait();
                    tracing::warn!(error = %e, batch = batch.len(), ?wait, "cannot write attempt outcomes; retrying");
                    for entry in batch.into_iter().rev() {
                        act.outcomes.push_front(entry);
                    }
                    ctx.run_later(wait, |act, ctx| act.write_outcomes(ctx));
                }
            }
        }));
    }

    /// Updates Redis for a written batch, then resolves its waiters (releasing permits).
    fn after_write(
        &mut self,
        batch: Vec<(RecordOutcome, oneshot::Sender<()>)>,
        written: outcomes::Written,
        ctx: &mut Context<Self>,
    ) {
        if !written.refused.is_empty() {
            metrics::counter!("courier_fenced_outcomes_total")
                .increment(written.refused.len() as u64);
            tracing::warn!(
                count = written.refused.len(),
                "outcomes refused: this node lost their lease"
            );
        }
        let kept = |i: &usize| !written.refused.contains(i) && !written.dropped.contains(i);
        let add: Vec<ScheduledRetry> = batch
            .iter()
            .enumerate()
            .filter(|(i, _)| kept(i))
            .filter_map(|(_, (o, _))| o.schedule)
            .collect();
        let remove: Vec<(Uuid, Uuid)> = batch
            .iter()
            .enumerate()
            .filter(|(i, (o, _))| kept(i) && o.row.update.status != DeliveryStatus::Retrying)
            .map(|(_, (o, _))| (o.subscription_id, o.row.update.id))
            .collect();
        let (kept_marks, unrecorded): (Vec<_>, Vec<_>) = batch
            .iter()
            .enumerate()
            .map(|(i, (o, _))| (kept(&i), o.mark))
            .partition(|(k, _)| *k);
        let unmark: Vec<Mark> = kept_marks.into_iter().map(|(_, m)| m).collect();
        let unrecorded: Vec<Mark> = unrecorded.into_iter().map(|(_, m)| m).collect();
        let store = self.retry_store.clone();
        let end = self.written;
        self.settling.push_back((end, false));
        ctx.spawn(
            async move {
                store.apply(&add, &remove, &unmark).await;
                count_unrecorded(&store, &unrecorded).await;
            }
            .into_actor(self)
            .map(move |(), act, _| {
                // Dropping each entry releases its permit; the waiter learns it is written.
                for (_, waiter) in batch {
                    let _ = waiter.send(());
                }
                act.settle(end);
            }),
        );
    }

    /// The Redis updates of the batch ending at `end` are done.
    fn settle(&mut self, end: u64) {
        if let Some(entry) = self.settling.iter_mut().find(|(e, _)| *e == end) {
            entry.1 = true;
        }
        while let Some(&(e, true)) = self.settling.front() {
            self.settled = e;
            self.settling.pop_front();
        }
        self.answer_flushes();
    }

    /// Answers each waiting `Flush` whose outcomes are all written and settled. (It waits
    /// for those received before it, not for the queue to empty, which under steady load it
    /// may never do.)
    fn answer_flushes(&mut self) {
        let settled = self.settled;
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flush_waiters)
            .into_iter()
            .partition(|(target, _)| *target <= settled);
        self.flush_waiters = waiting;
        for (_, w) in done {
            let _ = w.send(());
        }
    }

    fn write_marks(&mut self, ctx: &mut Context<Self>) {
        if self.marking || self.marks.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.marks);
        self.marking = true;
        let store = self.retry_store.clone();
        let fut = async move {
            let marks: Vec<Mark> = batch.iter().map(|(m, _)| *m).collect();
            store.mark(&marks).await;
            batch
        };
        ctx.spawn(fut.into_actor(self).map(|batch, act, ctx| {
            for (_, waiter) in batch {
                let _ = waiter.send(());
            }
            act.marking = false;
            act.write_marks(ctx);
        }));
    }
}

/// Attempts whose outcome was not recorded (refused for a lost lease, or dropped) are sent
/// again by whoever owns their delivery: each is a possible duplicate, counted here unless a
/// node taking the shard already found its in-flight mark and counted it.
async fn count_unrecorded(store: &RetryStore, marks: &[Mark]) {
    let n = store.take_unrecorded(marks).await;
    if n > 0 {
        metrics::counter!("courier_possible_duplicates_total").increment(n);
        tracing::warn!(
            count = n,
            "attempts whose outcomes were not recorded will be sent again (possible duplicates)"
        );
    }
}

impl Actor for PersistenceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1_000_000);
    }
}

impl Handler<Ingest> for PersistenceActor {
    type Result = ResponseFuture<Result<IngestResult, IngestError>>;

    fn handle(&mut self, msg: Ingest, ctx: &mut Self::Context) -> Self::Result {
        if self.ingests.len() >= MAX_WAITING_INGESTS {
            metrics::counter!("courier_ingest_overloaded_total").increment(1);
            return Box::pin(async { Err(IngestError::Overloaded) });
        }
        let (tx, rx) = oneshot::channel();
        self.ingests.push_back((msg.0, tx));
        self.commit_ingests(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(IngestError::Stopped)) })
    }
}

impl Handler<RecordOutcome> for PersistenceActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: RecordOutcome, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.received += 1;
        self.outcomes.push_back((msg, tx));
        self.write_outcomes(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<MarkInFlight> for PersistenceActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: MarkInFlight, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.marks.push((msg.0, tx));
        self.write_marks(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<Flush> for PersistenceActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: Flush, ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.flush_waiters.push((self.received, tx));
        self.answer_flushes();
        self.write_outcomes(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
