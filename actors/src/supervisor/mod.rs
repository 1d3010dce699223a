//! The supervisor: the root of the delivery side on one node. It keeps this node's leases
//! ([`leases`]: renew, take, hand back, and act on losing one), starts a SubscriptionActor
//! for a subscription of a shard it holds when that subscription has work (stamped with the
//! lease's epoch), routes work to those actors or hands it to the node that holds its shard,
//! and runs the sweeper ([`sweep`]).
//!
//! Takes: [`Dispatch`], [`Enqueue`], [`Backfill`], [`SubscriptionsChanged`],
//! [`ActorStopped`], [`SweepNow`], [`GetLoad`], [`Shutdown`]. Sends: the same on to
//! subscription actors, [`LeaseLost`] when a lease goes, work to other nodes.
//! Must never: run two actors for one subscription, start one for a subscription that is not
//! active or whose shard this node does not hold at the current epoch, or keep an actor
//! running under a lease it lost.

mod leases;
mod sweep;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use uuid::Uuid;

use crate::domain::{SubscriptionStatus, shard_of};
use crate::engine::EngineDeps;
use crate::feed::{self, WireJob, Work};
use crate::job::DeliveryJob;
use crate::messages::{
    ActorStopped, Backfill, Dispatch, EngineLoad, Enqueue, GetLoad, LeaseLost, Refresh, Shutdown,
    SubscriptionsChanged,
};
use crate::ownership::LeasePolicy;
use crate::subscription::SubscriptionActor;

pub use leases::{Draining, TickNow};

pub struct Supervisor {
    deps: Arc<EngineDeps>,
    policy: LeasePolicy,
    actors: HashMap<Uuid, (i64, Addr<SubscriptionActor>)>,
    /// The thread the subscription and delivery actors run on.
    delivery_arbiter: ArbiterHandle,
    draining: Draining,
    sweep_after: Uuid,
    ticking: bool,
    stopping: bool,
}

impl Supervisor {
    pub fn new(deps: Arc<EngineDeps>) -> Self {
        let policy = LeasePolicy {
            node: deps.config.node_id.clone(),
            ttl: deps.config.heartbeat_ttl,
        };
        Self {
            deps,
            policy,
            actors: HashMap::new(),
            delivery_arbiter: Arbiter::new().handle(),
            draining: Draining::default(),
            sweep_after: Uuid::nil(),
            ticking: false,
            stopping: false,
        }
    }

    /// The live actor of an active subscription of a shard held here, started if needed.
    fn actor_for(&mut self, id: Uuid, _ctx: &mut Context<Self>) -> Option<Addr<SubscriptionActor>> {
        if self.stopping {
            return None;
        }
        let epoch = self.deps.leases.current(shard_of(id))?;
        if let Some((e, addr)) = self.actors.get(&id)
            && *e == epoch
            && addr.connected()
        {
            return Some(addr.clone());
        }
        if let Some((_, old)) = self.actors.remove(&id) {
            old.do_send(LeaseLost);
        }
        let row = self.deps.directory.get(id)?;
        if row.status() != SubscriptionStatus::Active {
            return None;
        }
        let deps = self.deps.clone();
        let addr = SubscriptionActor::start_in_arbiter(&self.delivery_arbiter, move |_| {
            SubscriptionActor::new(row, epoch, deps)
        });
        self.actors.insert(id, (epoch, addr.clone()));
        Some(addr)
    }

    /// Hands jobs of shards held elsewhere to their nodes (best effort: the owner's sweeper
    /// finds anything lost).
    fn hand_over(&self, jobs: Vec<DeliveryJob>, backfill: Vec<Uuid>, ctx: &mut Context<Self>) {
        self.hand_over_work(jobs, backfill, Vec::new(), ctx);
    }

    fn hand_over_work(
        &self,
        jobs: Vec<DeliveryJob>,
        backfill: Vec<Uuid>,
        requeue: Vec<(Uuid, Uuid)>,
        ctx: &mut Context<Self>,
    ) {
        let mut by_node: HashMap<String, Work> = HashMap::new();
        for (sub, id) in requeue {
            if let Some(node) = self.deps.leases.owner_elsewhere(shard_of(sub)) {
                by_node.entry(node).or_default().requeue.push((sub, id));
            }
        }
        for job in &jobs {
            if let Some(node) = self
                .deps
                .leases
                .owner_elsewhere(shard_of(job.subscription_id))
            {
                by_node
                    .entry(node)
                    .or_default()
                    .jobs
                    .push(WireJob::from(job));
            }
        }
        for id in backfill {
            if let Some(node) = self.deps.leases.owner_elsewhere(shard_of(id)) {
                by_node.entry(node).or_default().backfill.push(id);
            }
        }
        if by_node.is_empty() {
            return;
        }
        let deps = self.deps.clone();
        ctx.spawn(
            async move {
                for (node, work) in by_node {
                    feed::hand_over(&deps, &node, &work).await;
                }
            }
            .into_actor(self),
        );
    }

    fn backfill(&mut self, ids: Vec<Uuid>, from_peer: bool, ctx: &mut Context<Self>) {
        let mut elsewhere = Vec::new();
        for id in ids {
            match self.actor_for(id, ctx) {
                Some(addr) => addr.do_send(Backfill {
                    subscriptions: vec![id],
                    from_peer,
                }),
                None => elsewhere.push(id),
            }
        }
        if !from_peer {
            self.hand_over(Vec::new(), elsewhere, ctx);
        }
    }
}

/// Groups items by subscription.
fn by_subscription<T>(items: impl IntoIterator<Item = (Uuid, T)>) -> HashMap<Uuid, Vec<T>> {
    let mut grouped: HashMap<Uuid, Vec<T>> = HashMap::new();
    for (sub, item) in items {
        grouped.entry(sub).or_default().push(item);
    }
    grouped
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1_000_000);
        ctx.run_interval(self.deps.config.sweep_interval, |act, ctx| act.sweep(ctx));
        ctx.run_interval(self.policy.tick(), |act, ctx| act.lease_tick(ctx));
        tracing::info!(node = %self.deps.config.node_id, "supervisor started");
    }
}

impl Handler<Dispatch> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, ctx: &mut Self::Context) {
        let mut elsewhere = Vec::new();
        for (id, jobs) in by_subscription(msg.jobs.into_iter().map(|j| (j.subscription_id, j))) {
            match self.actor_for(id, ctx) {
                Some(addr) => addr.do_send(Dispatch {
                    jobs,
                    from_peer: msg.from_peer,
                }),
                None => elsewhere.extend(jobs),
            }
        }
        if !msg.from_peer {
            self.hand_over(elsewhere, Vec::new(), ctx);
        }
    }
}

impl Handler<Enqueue> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Self::Context) {
        let id = msg.subscription_id;
        match self.actor_for(id, ctx) {
            Some(addr) => addr.do_send(msg),
            None if msg.force && !msg.from_peer => {
                let requeue = msg.deliveries.iter().map(|(d, _)| (id, *d)).collect();
                self.hand_over_work(Vec::new(), Vec::new(), requeue, ctx);
            }
            None => {}
        }
    }
}

impl Handler<Backfill> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Backfill, ctx: &mut Self::Context) {
        self.backfill(msg.subscriptions, msg.from_peer, ctx);
    }
}

impl Handler<SubscriptionsChanged> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: SubscriptionsChanged, ctx: &mut Self::Context) {
        let mut wake = Vec::new();
        for (id, row) in msg.applied {
            match (row, self.actors.get(&id)) {
                (None, Some((_, addr))) => {
                    addr.do_send(Shutdown);
                    self.actors.remove(&id);
                }
                (Some(row), Some((_, addr))) => addr.do_send(Refresh { row }),
                // A subscription that became active may have held work to release.
                (Some(row), None) if row.status() == SubscriptionStatus::Active => wake.push(id),
                _ => {}
            }
        }
        let owned: Vec<Uuid> = wake
            .into_iter()
            .filter(|id| self.deps.leases.current(shard_of(*id)).is_some())
            .collect();
        self.backfill(owned, true, ctx);
    }
}

impl Handler<ActorStopped> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ActorStopped, _ctx: &mut Self::Context) {
        if self
            .actors
            .get(&msg.id)
            .is_some_and(|(_, a)| *a == msg.addr)
        {
            self.actors.remove(&msg.id);
        }
    }
}

impl Handler<GetLoad> for Supervisor {
    type Result = ResponseFuture<EngineLoad>;

    fn handle(&mut self, _msg: GetLoad, _ctx: &mut Self::Context) -> Self::Result {
        let addrs: Vec<Addr<SubscriptionActor>> = self
            .actors
            .values()
            .filter(|(_, a)| a.connected())
            .map(|(_, a)| a.clone())
            .collect();
        Box::pin(async move {
            let mut total = EngineLoad::default();
            for a in addrs {
                if let Ok(l) = a.send(GetLoad).await {
                    total.actors += l.actors;
                    total.queued += l.queued;
                    total.scheduled += l.scheduled;
                    total.in_flight += l.in_flight;
                    total.concurrency_reduced += l.concurrency_reduced;
                }
            }
            total
        })
    }
}

impl Handler<Shutdown> for Supervisor {
    type Result = ResponseActFuture<Self, ()>;

    /// Stops every subscription actor (each finishes its attempts in flight first), waits for
    /// them — at most the delivery timeout plus a margin, saying what it waits for — writes
    /// what the persistence actor holds, hands every lease back so other nodes take over at
    /// once, and stops.
    fn handle(&mut self, _msg: Shutdown, _ctx: &mut Self::Context) -> Self::Result {
        self.stopping = true;
        let addrs: Vec<Addr<SubscriptionActor>> =
            self.actors.drain().map(|(_, (_, a))| a).collect();
        let bound = self.deps.config.delivery_timeout + Duration::from_secs(2);
        let (deps, policy) = (self.deps.clone(), self.policy.clone());
        let wait = async move {
            leases::stop_actors(&addrs, bound).await;
            let _ = deps.persistence.send(crate::messages::Flush).await;
            let all: Vec<u16> = deps
                .leases
                .held()
                .iter()
                .filter_map(|l| u16::try_from(l.shard).ok())
                .collect();
            crate::ownership::release(&deps.lease_db, &policy, &deps.leases, &all).await;
        };
        Box::pin(wait.into_actor(self).map(|(), _act, ctx| ctx.stop()))
    }
}
