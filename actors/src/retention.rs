//! The RetentionActor: on an interval, deletes attempt logs, finished deliveries, orphaned
//! messages and expired idempotency answers older than their retention, in bounded batches
//! so no statement holds locks for long.
//!
//! Every delete re-checks its condition inside the `DELETE` itself, so a row that changed
//! between choosing and deleting (a retry or recover landing in between) is kept.
//!
//! Takes: [`RunOnce`] (tests and operators step it), [`Shutdown`]. Sends: nothing.
//! Must never: delete an unfinished delivery or its message.

use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use sqlx::PgPool;

use crate::messages::Shutdown;

#[derive(Debug, Clone)]
pub struct RetentionPolicy {
    /// Logs and finished deliveries older than this go.
    pub retention: Duration,
    /// How often it runs.
    pub interval: Duration,
    /// `Idempotency-Key` answers older than this go.
    pub idempotency_ttl: Duration,
    /// Rows per delete statement.
    pub batch: i64,
}

/// What one run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    pub attempts: u64,
    pub deliveries: u64,
    pub messages: u64,
    pub idempotency_keys: u64,
    pub subscriptions: u64,
    /// Subscription change-log entries (kept 24 h: a directory further behind reloads).
    pub changes: u64,
}

/// Run now; `None` when a run is already going.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Option<RetentionReport>")]
pub struct RunOnce;

pub struct RetentionActor {
    db: PgPool,
    policy: RetentionPolicy,
    running: bool,
}

impl RetentionActor {
    pub fn new(db: PgPool, policy: RetentionPolicy) -> Self {
        Self {
            db,
            policy,
            running: false,
        }
    }
}

/// Each statement deletes at most `$2` rows older than `$1` (a UUIDv7 floor for the hot
/// tables, whose ids are time-ordered, or a time), children before parents. Finished
/// deliveries go with their attempts in `delete_deliveries`.
const STATEMENTS: [&str; 4] = [
    "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE id < $1::uuid LIMIT $2)",
    "DELETE FROM messages WHERE id IN (SELECT m.id FROM messages m WHERE m.id < $1::uuid \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id) LIMIT $2)",
    "DELETE FROM idempotency_keys WHERE (scope, key) IN \
     (SELECT scope, key FROM idempotency_keys WHERE created_at < $1::timestamptz LIMIT $2)",
    "DELETE FROM subscriptions WHERE id IN (SELECT s.id FROM subscriptions s WHERE s.deleted_at < $1::timestamptz \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id) LIMIT $2)",
];

/// A cutoff: an id floor for the time-ordered tables, a time for the others.
#[derive(Clone, Copy)]
enum Cutoff {
    Id(uuid::Uuid),
    Time(chrono::DateTime<Utc>),
}

async fn delete_in_batches(
    db: &PgPool,
    sql: &'static str,
    cutoff: Cutoff,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let q = sqlx::query(sql);
        let q = match cutoff {
            Cutoff::Id(id) => q.bind(id),
            Cutoff::Time(t) => q.bind(t),
        };
        let n = q.bind(batch).execute(db).await?.rows_affected();
        total += n;
        if n < u64::try_from(batch).unwrap_or(0) {
            return Ok(total);
        }
    }
}

crate::statement!(
    /// Finished deliveries older than the cutoff and, in the same statement, their attempts.
    /// The status condition is inside the `DELETE`: Postgres re-checks it on the row it
    /// locks, so a delivery requeued after the inner `SELECT` chose it survives.
    DELETE_DELIVERIES = "WITH gone AS (DELETE FROM deliveries WHERE id IN \
       (SELECT id FROM deliveries WHERE id < $1 AND status IN {FINAL} LIMIT $2) \
       AND status IN {FINAL} RETURNING id), \
     a AS (DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM gone)) \
     SELECT count(*) FROM gone"
);

/// Deletes finished deliveries (with their attempts) in batches; returns how many.
async fn delete_deliveries(
    db: &PgPool,
    cutoff: uuid::Uuid,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let mut total = 0u64;
    loop {
        let n: i64 = sqlx::query_scalar(DELETE_DELIVERIES.as_str())
            .bind(cutoff)
            .bind(batch)
            .fetch_one(db)
            .await?;
        total += u64::try_from(n).unwrap_or(0);
        if n < batch {
            return Ok(total);
        }
    }
}

async fn run(db: PgPool, policy: RetentionPolicy) -> Result<RetentionReport, sqlx::Error> {
    let now = Utc::now();
    let logs = now - chrono::Duration::from_std(policy.retention).unwrap_or_default();
    let keys = now - chrono::Duration::from_std(policy.idempotency_ttl).unwrap_or_default();
    let floor = crate::domain::uuid_floor(logs);
    Ok(RetentionReport {
        attempts: delete_in_batches(&db, STATEMENTS[0], Cutoff::Id(floor), policy.batch).await?,
        deliveries: delete_deliveries(&db, floor, policy.batch).await?,
        messages: delete_in_batches(&db, STATEMENTS[1], Cutoff::Id(floor), policy.batch).await?,
        idempotency_keys: delete_in_batches(&db, STATEMENTS[2], Cutoff::Time(keys), policy.batch)
            .await?,
        subscriptions: delete_in_batches(&db, STATEMENTS[3], Cutoff::Time(logs), policy.batch)
            .await?,
        changes: crate::db::changes::prune(&db, now - chrono::Duration::hours(24), policy.batch)
            .await?,
    })
}

impl Actor for RetentionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.policy.interval, |_act, ctx| {
            ctx.notify(RunOnce);
        });
    }
}

impl Handler<RunOnce> for RetentionActor {
    type Result = ResponseActFuture<Self, Option<RetentionReport>>;

    fn handle(&mut self, _msg: RunOnce, _ctx: &mut Self::Context) -> Self::Result {
        if self.running {
            return Box::pin(fut::ready(None));
        }
        self.running = true;
        let fut = run(self.db.clone(), self.policy.clone());
        Box::pin(fut.into_actor(self).map(|result, act, _| {
            act.running = false;
            match result {
                Ok(report) => {
                    if report != RetentionReport::default() {
                        tracing::info!(?report, "retention removed old rows");
                    }
                    Some(report)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention run failed; the next run retries");
                    None
                }
            }
        }))
    }
}

impl Handler<Shutdown> for RetentionActor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
