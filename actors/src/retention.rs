//! The RetentionActor: on an interval, deletes attempt logs, finished deliveries, orphaned
//! messages and expired idempotency answers older than their retention, in bounded batches
//! so no statement holds locks for long.
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

const STATEMENTS: [&str; 5] = [
    "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE attempted_at < $1 LIMIT $2)",
    "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries \
     WHERE status IN ('succeeded', 'failed', 'filtered') AND updated_at < $1 LIMIT $2)",
    "DELETE FROM messages WHERE id IN (SELECT m.id FROM messages m WHERE m.created_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id) LIMIT $2)",
    "DELETE FROM idempotency_keys WHERE (scope, key) IN \
     (SELECT scope, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)",
    "DELETE FROM subscriptions WHERE id IN (SELECT s.id FROM subscriptions s WHERE s.deleted_at < $1 \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id) LIMIT $2)",
];

async fn delete_in_batches(
    db: &PgPool,
    sql: &'static str,
    cutoff: chrono::DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let n = sqlx::query(sql)
            .bind(cutoff)
            .bind(batch)
            .execute(db)
            .await?
            .rows_affected();
        total += n;
        if n < u64::try_from(batch).unwrap_or(0) {
            return Ok(total);
        }
    }
}

async fn run(db: PgPool, policy: RetentionPolicy) -> Result<RetentionReport, sqlx::Error> {
    let now = Utc::now();
    let logs = now - chrono::Duration::from_std(policy.retention).unwrap_or_default();
    let keys = now - chrono::Duration::from_std(policy.idempotency_ttl).unwrap_or_default();
    let cutoffs = [logs, logs, logs, keys, logs];
    let mut counts = [0u64; 5];
    for (i, sql) in STATEMENTS.iter().enumerate() {
        counts[i] = delete_in_batches(&db, sql, cutoffs[i], policy.batch).await?;
    }
    let [
        attempts,
        deliveries,
        messages,
        idempotency_keys,
        subscriptions,
    ] = counts;
    Ok(RetentionReport {
        attempts,
        deliveries,
        messages,
        idempotency_keys,
        subscriptions,
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
