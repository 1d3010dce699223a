//! The supervisor's side of ownership: every tick it renews, takes and hands back leases
//! ([`crate::ownership::tick`]) and acts on what changed —
//!
//! - a lease lost: that shard's actors get [`LeaseLost`] at once (they stop their timers and
//!   send nothing more);
//! - a lease gained: the attempts still marked in flight in that shard were interrupted (the
//!   previous owner died, froze or restarted): those without a recorded attempt are counted as
//!   possible duplicates; the shard's retries are loaded from Redis (entries of unknown or
//!   inactive subscriptions are dropped) and a sweep runs;
//! - a lease beyond this node's fair share: its actors are stopped, their outcomes flushed,
//!   and the lease handed back so the node that needs it can take it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use uuid::Uuid;

use super::{Supervisor, by_subscription};
use crate::db::deliveries;
use crate::domain::{SubscriptionStatus, shard_of};
use crate::engine::EngineDeps;
use crate::messages::{Enqueue, Flush, LeaseLost, Shutdown};
use crate::ownership::{self, IdentityCheck, TickReport};
use crate::retry_store::ScheduledRetry;
use crate::subscription::SubscriptionActor;

/// Shards being handed back, with the deadline by which their actors must have stopped.
#[derive(Debug, Default)]
pub struct Draining(HashMap<u16, Instant>);

/// Renew and take leases now; resolves when the supervisor has acted on the result (the
/// engine waits for the first one at start, so a lone node owns its shards before it
/// serves).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct TickNow;

impl Handler<TickNow> for Supervisor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: TickNow, _ctx: &mut Self::Context) -> Self::Result {
        if self.ticking || self.stopping {
            return Box::pin(fut::ready(()));
        }
        self.ticking = true;
        let (deps, policy) = (self.deps.clone(), self.policy.clone());
        let fut = async move {
            match deps.identity.confirm().await {
                IdentityCheck::Held => ownership::tick(&deps.lease_db, &policy, &deps.leases).await,
                // Postgres is away: nothing can be renewed, and the leases lapse by their
                // local deadlines (the actors stop at once when they do).
                IdentityCheck::Unreachable => TickReport::default(),
                // Another process runs as this node: deliver nothing, take nothing.
                IdentityCheck::Taken => TickReport {
                    excess: deps.leases.active_shards(),
                    ..TickReport::default()
                },
            }
        };
        Box::pin(fut.into_actor(self).map(|report, act, ctx| {
            act.ticking = false;
            act.on_report(report, ctx);
        }))
    }
}

impl Supervisor {
    pub(super) fn lease_tick(&mut self, ctx: &mut Context<Self>) {
        ctx.notify(TickNow);
    }

    fn on_report(&mut self, report: TickReport, ctx: &mut Context<Self>) {
        if !report.lost.is_empty() {
            self.stop_shards(&report.lost, true);
        }
        for (shard, epoch) in &report.gained {
            self.on_gained(*shard, *epoch, ctx);
        }
        if !report.gained.is_empty() {
            self.sweep(ctx);
        }
        let deadline = Instant::now() + self.deps.config.delivery_timeout + Duration::from_secs(1);
        for shard in report.excess {
            if self.draining.0.insert(shard, deadline).is_none() {
                self.stop_shards(&[shard], false);
            }
        }
        self.release_drained(ctx);
    }

    /// Stops the actors of `shards`: at once (`lost`), or gracefully (they finish what is in
    /// flight; the lease is still valid for their outcomes).
    fn stop_shards(&mut self, shards: &[u16], lost: bool) {
        let ids: Vec<Uuid> = self
            .actors
            .keys()
            .filter(|id| shards.contains(&shard_of(**id)))
            .copied()
            .collect();
        for id in ids {
            if let Some((_, addr)) = self.actors.get(&id) {
                if lost {
                    addr.do_send(LeaseLost);
                    self.actors.remove(&id);
                } else {
                    addr.do_send(Shutdown);
                }
            }
        }
    }

    /// Hands back draining shards whose actors have all stopped (or whose deadline passed),
    /// after flushing their outcomes.
    fn release_drained(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let ready: Vec<u16> = self
            .draining
            .0
            .iter()
            .filter(|(shard, deadline)| {
                **deadline <= now
                    || !self
                        .actors
                        .iter()
                        .any(|(id, (_, a))| shard_of(*id) == **shard && a.connected())
            })
            .map(|(s, _)| *s)
            .collect();
        if ready.is_empty() {
            return;
        }
        for s in &ready {
            self.draining.0.remove(s);
        }
        self.actors.retain(|id, _| !ready.contains(&shard_of(*id)));
        let (deps, policy) = (self.deps.clone(), self.policy.clone());
        ctx.spawn(
            async move {
                let _ = deps.persistence.send(Flush).await;
                ownership::release(&deps.lease_db, &policy, &deps.leases, &ready).await;
            }
            .into_actor(self),
        );
    }

    fn on_gained(&mut self, shard: u16, epoch: i64, ctx: &mut Context<Self>) {
        let deps = self.deps.clone();
        let fut = async move {
            count_interrupted(&deps, shard).await;
            resume_retries(&deps, shard).await
        };
        ctx.spawn(fut.into_actor(self).map(move |retries, act, ctx| {
            if act.deps.leases.current(shard) != Some(epoch) {
                return;
            }
            let entries = retries
                .into_iter()
                .map(|r| (r.subscription_id, (r.delivery_id, r.due_ms)));
            for (subscription_id, deliveries) in by_subscription(entries) {
                if let Some(addr) = act.actor_for(subscription_id, ctx) {
                    addr.do_send(Enqueue {
                        subscription_id,
                        deliveries,
                        force: false,
                        from_peer: false,
                    });
                }
            }
        }));
    }
}

/// Attempts marked in flight in `shard` before this node took it, without a recorded attempt:
/// their deliveries are sent again, so the receiver may see them twice.
async fn count_interrupted(deps: &EngineDeps, shard: u16) {
    let marks = match deps.retry_store.take_marks(shard).await {
        Ok(m) if m.is_empty() => return,
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, shard, "cannot read in-flight marks; duplicates after this takeover are not counted");
            return;
        }
    };
    let recorded = match deliveries::recorded_attempts(&deps.db, &marks).await {
        Ok(r) => r.len(),
        Err(e) => {
            tracing::warn!(error = %e, shard, "cannot check interrupted attempts; counting them all");
            0
        }
    };
    let interrupted = marks.len().saturating_sub(recorded);
    if interrupted > 0 {
        metrics::counter!("courier_possible_duplicates_total").increment(interrupted as u64);
        tracing::warn!(
            shard,
            count = interrupted,
            "attempts were in flight when this shard's previous owner stopped; \
             they will be sent again (possible duplicates)"
        );
    }
}

/// Tries to load a shard's retries a few times: a node taking every shard at once reads them
/// all together, and a busy Redis can answer one of those reads too late. Without them the
/// sweeper still finds each delivery once it is due, but not sooner.
async fn load_retries(deps: &EngineDeps, shard: u16) -> Option<Vec<ScheduledRetry>> {
    const TRIES: u32 = 4;
    for n in 1..=TRIES {
        match deps.retry_store.load_shard(shard).await {
            Ok(r) => return Some(r),
            Err(e) if n < TRIES => {
                tracing::debug!(error = %e, shard, try_ = n, "cannot read retries from redis; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(250 << n)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, shard, "cannot read retries from redis; the sweeper will find them when due");
            }
        }
    }
    None
}

/// The shard's retries Redis remembers, without those of unknown or inactive subscriptions
/// (which are removed from Redis: Postgres holds them).
async fn resume_retries(deps: &EngineDeps, shard: u16) -> Vec<ScheduledRetry> {
    let Some(all) = load_retries(deps, shard).await else {
        return Vec::new();
    };
    let (keep, stale): (Vec<ScheduledRetry>, Vec<ScheduledRetry>) =
        all.into_iter().partition(|r| {
            deps.directory
                .get(r.subscription_id)
                .is_some_and(|s| s.status() == SubscriptionStatus::Active)
        });
    if !stale.is_empty() {
        tracing::info!(
            shard,
            count = stale.len(),
            "dropping redis retries of unknown or inactive subscriptions"
        );
        deps.retry_store.forget(&stale).await;
    }
    if !keep.is_empty() {
        tracing::info!(
            shard,
            count = keep.len(),
            "resuming retries scheduled in redis"
        );
    }
    keep
}

/// Asks each actor to stop and waits (at most `bound`) for them, saying what it waits for.
pub async fn stop_actors(addrs: &[Addr<SubscriptionActor>], bound: Duration) {
    let mut in_flight = 0;
    for a in addrs {
        in_flight += a
            .send(crate::messages::GetLoad)
            .await
            .map_or(0, |l| l.in_flight);
        a.do_send(Shutdown);
    }
    tracing::info!(
        in_flight,
        actors = addrs.len(),
        ?bound,
        "waiting for attempts in flight to finish"
    );
    let deadline = Instant::now() + bound;
    while addrs.iter().any(Addr::connected) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = addrs.iter().filter(|a| a.connected()).count();
    if left == 0 {
        tracing::info!(in_flight, "every attempt in flight finished");
    } else {
        tracing::warn!(
            actors = left,
            "attempts still in flight at the deadline; they are sent again later"
        );
    }
}
