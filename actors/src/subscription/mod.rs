//! The SubscriptionActor: one per subscription with work on this node, started by the
//! supervisor only under a lease this node holds. It is a thin shell around [`core::Core`],
//! which decides; the shell does the I/O the core asks for — loads and pages from Postgres,
//! node-wide attempt permits, in-flight marks, one DeliveryActor per attempt, outcome
//! records, timers — and asks [`Leases`] before every send.
//!
//! Takes: [`Dispatch`], [`Enqueue`], [`Backfill`], [`Refresh`], [`LeaseLost`],
//! [`AttemptDone`], [`GetLoad`], [`Shutdown`]. Sends: [`MarkInFlight`] and
//! [`RecordOutcome`] to the persistence actor, [`ActorStopped`] to the supervisor, attempt
//! events to the live stream, disables to the engine's lifecycle.
//! Must never: send without a valid lease at its epoch, keep timers running after the lease
//! is lost, or forget a delivery (what it lets go of is in Postgres, due or held).

mod concurrency;
pub mod core;
mod idle;
mod keys;
mod outcome;
mod reads;
mod tables;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capacity::Permit;
use actix::prelude::*;

use self::core::{Core, Step};
use crate::clock::SystemClock;
use crate::db::health::Health;
use crate::db::subscriptions::SubscriptionRow;
use crate::delivery::{AttemptSpec, DeliveryActor};
use crate::engine::EngineDeps;
use crate::job::DeliveryJob;
use crate::messages::{
    ActorStopped, AttemptDone, Backfill, Dispatch, EngineLoad, Enqueue, GetLoad, LeaseLost,
    MarkInFlight, Refresh, Shutdown,
};
use crate::ownership::Leases;
use crate::retry_store::Mark;

pub struct SubscriptionActor {
    sub: Arc<SubscriptionRow>,
    core: Core<SystemClock>,
    deps: Arc<EngineDeps>,
    shard: u16,
    epoch: i64,
    /// A node-wide attempt permit for the attempt about to start.
    permit: Option<Permit>,
    awaiting_permit: bool,
    wake: Option<(Instant, SpawnHandle)>,
    last_busy: Instant,
    /// Armed only while the core is idle ([`idle`]): compacts it, then stops the actor.
    idle_timer: Option<SpawnHandle>,
    /// Shutting down: no new attempts; stop when the last one in flight reports.
    stopping: bool,
    /// The failing streak is read from Postgres at start; nothing is sent before.
    health_loaded: bool,
}

impl SubscriptionActor {
    pub fn new(sub: Arc<SubscriptionRow>, epoch: i64, deps: Arc<EngineDeps>) -> Self {
        let core = Core::new(
            SystemClock,
            deps.core_config.clone(),
            &sub,
            Health::default(),
        );
        Self {
            shard: crate::domain::shard_of(sub.id),
            sub,
            core,
            deps,
            epoch,
            permit: None,
            awaiting_permit: false,
            wake: None,
            last_busy: Instant::now(),
            idle_timer: None,
            stopping: false,
            health_loaded: false,
        }
    }

    fn leases(&self) -> &Leases {
        &self.deps.leases
    }

    fn lease_ok(&self) -> bool {
        self.leases().allows(self.shard, self.epoch, Instant::now())
    }

    /// Does what the core asks until it waits, then arms or disarms the idle timer.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        self.drive(ctx);
        self.note_idle(ctx);
    }

    fn drive(&mut self, ctx: &mut Context<Self>) {
        if !self.health_loaded {
            return;
        }
        if !self.stopping && self.core.is_active() && !self.lease_ok() {
            self.lose_lease(ctx);
            return;
        }
        loop {
            match self.core.plan(self.permit.is_some()) {
                Step::Send(job) => self.start_attempt(job, ctx),
                Step::Load(ids) => self.load(ids, ctx),
                Step::Page(cursor) => self.page(cursor, ctx),
                Step::Heads(keys) => self.read_heads(keys, ctx),
                Step::NeedPermit => {
                    if self.take_permit() {
                        continue;
                    }
                    self.wait_for_permit(ctx);
                    break;
                }
                Step::WaitUntil(at) => {
                    // A permit is only held for an attempt about to start: others want it.
                    self.permit = None;
                    self.arm(ctx, at);
                    break;
                }
                Step::Idle => {
                    self.permit = None;
                    break;
                }
            }
        }
    }

    fn take_permit(&mut self) -> bool {
        if self.permit.is_none() {
            self.permit = self.deps.capacity.try_acquire(self.sub.id);
        }
        self.permit.is_some()
    }

    /// Queues for a permit, in turn with the node's other subscriptions.
    fn wait_for_permit(&mut self, ctx: &mut Context<Self>) {
        if self.awaiting_permit {
            return;
        }
        self.awaiting_permit = true;
        let wait = self.deps.capacity.acquire(self.sub.id);
        ctx.spawn(wait.into_actor(self).map(|granted, act, ctx| {
            act.awaiting_permit = false;
            act.permit = granted;
            act.pump(ctx);
        }));
    }

    /// Wakes the actor at `at` (keeping an earlier wake if one is set).
    fn arm(&mut self, ctx: &mut Context<Self>, at: Instant) {
        if let Some((when, handle)) = self.wake {
            if when <= at && when > Instant::now() {
                return;
            }
            ctx.cancel_future(handle);
        }
        let delay = at.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(delay, |act, ctx| {
            act.wake = None;
            act.pump(ctx);
        });
        self.wake = Some((at, handle));
    }

    /// Marks the attempt in flight (Redis), then starts its DeliveryActor.
    fn start_attempt(&mut self, job: DeliveryJob, ctx: &mut Context<Self>) {
        let Some(permit) = self.permit.take() else {
            self.core.unsend(job);
            return;
        };
        let Some(payload) = job.payload.clone() else {
            self.core.unsend(job);
            self.permit = Some(permit);
            return;
        };
        let mark = Mark {
            shard: self.shard,
            delivery_id: job.delivery_id,
            attempt: job.attempts_made + 1,
            epoch: self.epoch,
        };
        let timeout = self
            .sub
            .timeout_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map_or(self.deps.config.delivery_timeout, Duration::from_millis);
        let spec = AttemptSpec {
            attempt_number: job.attempts_made + 1,
            job,
            payload,
            subscription: self.sub.clone(),
            timeout,
            allow_private: self.deps.config.allow_private_targets,
            leases: self.deps.leases.clone(),
            shard: self.shard,
            epoch: self.epoch,
            keyring: self.deps.keyring.clone(),
            credential_headers: self.deps.credential_headers.clone(),
        };
        let marked = self.deps.persistence.send(MarkInFlight(mark));
        let me = ctx.address().recipient();
        ctx.spawn(marked.into_actor(self).map(move |_, _act, _ctx| {
            DeliveryActor::new(spec, me, permit).start();
        }));
    }

    fn lose_lease(&mut self, ctx: &mut Context<Self>) {
        tracing::warn!(sub = %self.sub.id, shard = self.shard, epoch = self.epoch, "lease lost; stopping");
        self.core.stop();
        self.permit = None;
        if let Some((_, handle)) = self.wake.take() {
            ctx.cancel_future(handle);
        }
        if self.core.in_flight() == 0 {
            ctx.stop();
        } else {
            self.stopping = true;
        }
    }

    fn load_figures(&self) -> EngineLoad {
        EngineLoad {
            actors: 1,
            queued: self.core.queued(),
            scheduled: self.core.scheduled(),
            in_flight: self.core.in_flight(),
            concurrency_reduced: usize::from(self.core.concurrency_reduced()),
        }
    }
}

impl Actor for SubscriptionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(100_000);
        // The idle timer is first armed once the health is read (the pump after it): the work
        // it was started for arrives before that.
        self.load_health(ctx);
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        // Through the shared address (not an address of its own: 100,000 actors would hold
        // 100,000 senders).
        if let Some(supervisor) = self.deps.supervisor() {
            supervisor.do_send(ActorStopped {
                id: self.sub.id,
                addr: ctx.address(),
            });
        }
    }
}

impl Handler<Dispatch> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, ctx: &mut Self::Context) {
        self.core.add_jobs(msg.jobs);
        self.pump(ctx);
    }
}

impl Handler<Enqueue> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Self::Context) {
        self.core.add_ids(msg.deliveries, msg.force);
        self.pump(ctx);
    }
}

impl Handler<Backfill> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, _msg: Backfill, ctx: &mut Self::Context) {
        self.core.note_backlog();
        self.pump(ctx);
    }
}

impl Handler<Refresh> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, msg: Refresh, ctx: &mut Self::Context) {
        if msg.row.version < self.sub.version {
            return;
        }
        let resumed =
            !self.core.is_active() && msg.row.status() == crate::domain::SubscriptionStatus::Active;
        self.sub = msg.row;
        self.core.refresh(&self.sub);
        if resumed {
            self.core.note_backlog();
        }
        self.pump(ctx);
    }
}

impl Handler<LeaseLost> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, _msg: LeaseLost, ctx: &mut Self::Context) {
        self.lose_lease(ctx);
    }
}

impl Handler<GetLoad> for SubscriptionActor {
    type Result = MessageResult<GetLoad>;

    fn handle(&mut self, _msg: GetLoad, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.load_figures())
    }
}

impl Handler<Shutdown> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Self::Context) {
        self.stopping = true;
        self.core.stop();
        self.permit = None;
        if self.core.in_flight() == 0 {
            ctx.stop();
        }
    }
}

impl Handler<AttemptDone> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, done: AttemptDone, ctx: &mut Self::Context) {
        match done.result {
            Some((attempt, outcome)) => {
                self.record(done.job, attempt, outcome, done.permit, ctx);
            }
            None => {
                self.core.unsend(done.job);
                self.lose_lease(ctx);
            }
        }
        if self.stopping && self.core.in_flight() == 0 {
            ctx.stop();
            return;
        }
        self.pump(ctx);
    }
}
