//! The supervisor: the root of the delivery side. It starts a SubscriptionActor for a
//! subscription when that subscription has work (and again if one dies), routes deliveries
//! to them, resumes the retries Redis remembers at start, and runs the sweeper that finds
//! anything due in Postgres that no actor holds. It also keeps this node's heartbeat and
//! claims the subscriptions of nodes that stopped beating.
//!
//! Takes: [`Dispatch`], [`Enqueue`], [`SubscriptionChanged`], [`ActorStopped`], [`SweepNow`],
//! [`GetLoad`], [`Shutdown`]. Sends: the same messages on to subscription actors.
//! Must never: run two actors for one subscription on one node, start one for a
//! subscription that is not active, or start one for a subscription another node owns.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use crate::db::{deliveries, subscriptions};
use crate::domain::SubscriptionStatus;
use crate::engine::EngineDeps;
use crate::messages::{
    ActorStopped, Dispatch, EngineLoad, Enqueue, GetLoad, Refresh, Shutdown, SubscriptionChanged,
    SweepNow,
};
use crate::subscription::SubscriptionActor;

/// Deliveries the sweeper hands over per run.
const SWEEP_LIMIT: i64 = 20_000;

pub struct Supervisor {
    deps: Arc<EngineDeps>,
    actors: HashMap<Uuid, Addr<SubscriptionActor>>,
    /// The thread the subscription and delivery actors run on.
    delivery_arbiter: ArbiterHandle,
}

impl Supervisor {
    /// Registers the node, starts the supervisor and hands it the retries Redis remembers.
    pub async fn start_with(deps: Arc<EngineDeps>) -> Addr<Self> {
        register_node(&deps).await;
        let delivery_arbiter = Arbiter::new().handle();
        let addr = Self {
            deps: deps.clone(),
            actors: HashMap::new(),
            delivery_arbiter,
        }
        .start();
        match deps.retry_store.load_all().await {
            Ok(retries) => {
                tracing::info!(count = retries.len(), "resuming retries scheduled in redis");
                let entries = retries
                    .into_iter()
                    .map(|r| (r.subscription_id, r.delivery_id, r.due_ms));
                for (subscription_id, deliveries) in by_subscription(entries) {
                    addr.do_send(Enqueue {
                        subscription_id,
                        deliveries,
                        force: false,
                    });
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read retries from redis; the sweeper will find them")
            }
        }
        count_interrupted_attempts(&deps).await;
        addr.do_send(SweepNow);
        addr
    }

    /// The live actor of an active subscription, started if needed.
    fn actor_for(&mut self, id: Uuid, ctx: &mut Context<Self>) -> Option<Addr<SubscriptionActor>> {
        if let Some(addr) = self.actors.get(&id).filter(|a| a.connected()) {
            return Some(addr.clone());
        }
        let row = self.deps.directory.get(id)?;
        if row.status() != SubscriptionStatus::Active {
            return None;
        }
        // Only the owner sends, so two nodes never deliver the same subscription's
        // deliveries; the owner's sweeper finds what other nodes accepted.
        if row
            .owner_node
            .as_deref()
            .is_some_and(|owner| owner != self.deps.config.node_id)
        {
            return None;
        }
        let (deps, me) = (self.deps.clone(), ctx.address().recipient());
        let addr = SubscriptionActor::start_in_arbiter(&self.delivery_arbiter, move |_| {
            SubscriptionActor::new(row, deps, me)
        });
        self.actors.insert(id, addr.clone());
        Some(addr)
    }

    fn hand_over(
        &mut self,
        rows: Vec<(Uuid, Uuid, chrono::DateTime<Utc>)>,
        ctx: &mut Context<Self>,
    ) -> usize {
        let n = rows.len();
        let entries = rows
            .into_iter()
            .map(|(id, sub, due)| (sub, id, due.timestamp_millis()));
        let by_sub = by_subscription(entries);
        for (subscription_id, deliveries) in by_sub {
            if let Some(addr) = self.actor_for(subscription_id, ctx) {
                addr.do_send(Enqueue {
                    subscription_id,
                    deliveries,
                    force: false,
                });
            }
        }
        n
    }

    fn keep_membership(&mut self, ctx: &mut Context<Self>) {
        let deps = self.deps.clone();
        ctx.spawn(async move { register_node(&deps).await }.into_actor(self));
    }
}

/// Attempts still marked in flight were interrupted by the end of the previous run: their
/// deliveries are attempted again (the sweeper finds them), so the receiver may see them twice.
async fn count_interrupted_attempts(deps: &EngineDeps) {
    match deps.retry_store.take_in_flight().await {
        Ok(marks) if !marks.is_empty() => {
            metrics::counter!("courier_possible_duplicates_total").increment(marks.len() as u64);
            tracing::warn!(
                count = marks.len(),
                "attempts were in flight when the previous run stopped; \
                they will be sent again (possible duplicates)"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read in-flight marks from redis"),
    }
}

/// Groups `(subscription, delivery, due ms)` entries by subscription, as `Enqueue` takes them.
fn by_subscription(
    entries: impl IntoIterator<Item = (Uuid, Uuid, i64)>,
) -> HashMap<Uuid, Vec<(Uuid, i64)>> {
    let mut grouped: HashMap<Uuid, Vec<(Uuid, i64)>> = HashMap::new();
    for (sub, id, due) in entries {
        grouped.entry(sub).or_default().push((id, due));
    }
    grouped
}

async fn register_node(deps: &EngineDeps) {
    let node = &deps.config.node_id;
    if let Err(e) = subscriptions::heartbeat(&deps.db, node).await {
        tracing::warn!(error = %e, "heartbeat failed");
        return;
    }
    match subscriptions::claim_orphans(&deps.db, node, deps.config.heartbeat_ttl.as_secs_f64())
        .await
    {
        Ok(rows) if rows.is_empty() => {}
        Ok(rows) => {
            tracing::info!(claimed = rows.len(), node = %node, "claimed subscriptions without a live owner");
            let p = &deps.config.redis_prefix;
            for row in rows {
                let id = row.id;
                deps.directory.upsert(row);
                crate::changes::publish(deps.cache.redis(), p, node, id).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot claim subscriptions"),
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1_000_000);
        ctx.run_interval(self.deps.config.sweep_interval, |_act, ctx| {
            ctx.notify(SweepNow)
        });
        let beat = (self.deps.config.heartbeat_ttl / 3).max(Duration::from_millis(100));
        ctx.run_interval(beat, |act, ctx| act.keep_membership(ctx));
        tracing::info!(node = %self.deps.config.node_id, "supervisor started");
    }
}

impl Handler<Dispatch> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, ctx: &mut Self::Context) {
        let mut by_sub: HashMap<Uuid, Vec<_>> = HashMap::new();
        for job in msg.jobs {
            by_sub.entry(job.subscription_id).or_default().push(job);
        }
        for (id, jobs) in by_sub {
            if let Some(addr) = self.actor_for(id, ctx) {
                addr.do_send(Dispatch { jobs });
            }
        }
    }
}

impl Handler<Enqueue> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Self::Context) {
        if let Some(addr) = self.actor_for(msg.subscription_id, ctx) {
            addr.do_send(msg);
        }
    }
}

impl Handler<SubscriptionChanged> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: SubscriptionChanged, _ctx: &mut Self::Context) {
        let Some(addr) = self.actors.get(&msg.id) else {
            return;
        };
        match self.deps.directory.get(msg.id) {
            Some(row) => addr.do_send(Refresh { row }),
            None => {
                addr.do_send(Shutdown);
                self.actors.remove(&msg.id);
            }
        }
    }
}

impl Handler<ActorStopped> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ActorStopped, _ctx: &mut Self::Context) {
        if self.actors.get(&msg.id).is_some_and(|a| *a == msg.addr) {
            self.actors.remove(&msg.id);
        }
    }
}

impl Handler<SweepNow> for Supervisor {
    type Result = ResponseActFuture<Self, usize>;

    fn handle(&mut self, _msg: SweepNow, _ctx: &mut Self::Context) -> Self::Result {
        let (db, node) = (self.deps.db.clone(), self.deps.config.node_id.clone());
        let horizon = Utc::now()
            + chrono::Duration::from_std(self.deps.config.sweep_interval).unwrap_or_default();
        let fut = async move { deliveries::due_for_owner(&db, &node, horizon, SWEEP_LIMIT).await };
        Box::pin(fut.into_actor(self).map(|result, act, ctx| match result {
            Ok(rows) => act.hand_over(rows, ctx),
            Err(e) => {
                tracing::warn!(error = %e, "sweep failed");
                0
            }
        }))
    }
}

impl Handler<GetLoad> for Supervisor {
    type Result = ResponseFuture<EngineLoad>;

    fn handle(&mut self, _msg: GetLoad, _ctx: &mut Self::Context) -> Self::Result {
        let addrs: Vec<Addr<SubscriptionActor>> = self
            .actors
            .values()
            .filter(|a| a.connected())
            .cloned()
            .collect();
        Box::pin(async move {
            let mut total = EngineLoad::default();
            for a in addrs {
                if let Ok(l) = a.send(GetLoad).await {
                    total.actors += l.actors;
                    total.queued += l.queued;
                    total.scheduled += l.scheduled;
                    total.in_flight += l.in_flight;
                }
            }
            total
        })
    }
}

impl Handler<Shutdown> for Supervisor {
    type Result = ResponseActFuture<Self, ()>;

    /// Asks every subscription actor to stop (each finishes its attempts in flight first),
    /// waits for them — at most the delivery timeout plus a margin, saying what it waits
    /// for — and then stops itself (no more sweeps or heartbeats).
    fn handle(&mut self, _msg: Shutdown, _ctx: &mut Self::Context) -> Self::Result {
        let addrs: Vec<Addr<SubscriptionActor>> = self.actors.drain().map(|(_, a)| a).collect();
        let bound = self.deps.config.delivery_timeout + Duration::from_secs(2);
        let wait = async move {
            let mut in_flight = 0;
            for a in &addrs {
                in_flight += a.send(GetLoad).await.map_or(0, |l| l.in_flight);
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
                    "attempts still in flight at the deadline; they are sent again at the next start"
                );
            }
        };
        Box::pin(wait.into_actor(self).map(|(), _act, ctx| ctx.stop()))
    }
}
