//! The sweeper: finds subscriptions with deliveries due in Postgres (whatever Redis lost, a
//! crash left, a backlog larger than memory, another node accepted) and tells their actors
//! to page through them. It walks subscriptions, not deliveries — [`SWEEP_PAGE`] ids a run,
//! in id order, continuing where the last run stopped and wrapping around — so every
//! subscription with due work is reached within a few runs however large any one backlog is,
//! and each actor reads its own backlog in due order.

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use super::Supervisor;
use crate::db::deliveries;
use crate::domain::shard_of;
use crate::messages::SweepNow;

/// Subscriptions looked at per run.
const SWEEP_PAGE: i64 = 2_000;

impl Supervisor {
    pub(super) fn sweep(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        ctx.notify(SweepNow);
    }
}

impl Handler<SweepNow> for Supervisor {
    type Result = ResponseActFuture<Self, usize>;

    fn handle(&mut self, _msg: SweepNow, _ctx: &mut Self::Context) -> Self::Result {
        let (db, after) = (self.deps.db.clone(), self.sweep_after);
        let horizon = Utc::now();
        let fut = async move {
            deliveries::subscriptions_with_due_work(&db, horizon, after, SWEEP_PAGE).await
        };
        Box::pin(fut.into_actor(self).map(|result, act, ctx| match result {
            Ok(ids) => {
                act.sweep_after = match ids.last() {
                    Some(last) if ids.len() as i64 >= SWEEP_PAGE => *last,
                    _ => Uuid::nil(),
                };
                let mine: Vec<Uuid> = ids
                    .into_iter()
                    .filter(|id| act.deps.leases.current(shard_of(*id)).is_some())
                    .collect();
                let n = mine.len();
                act.backfill(mine, true, ctx);
                n
            }
            Err(e) => {
                tracing::warn!(error = %e, "sweep failed");
                0
            }
        }))
    }
}
