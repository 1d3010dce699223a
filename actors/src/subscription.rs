//! The SubscriptionActor: one per subscription with work on this node. It owns the
//! subscription's queue of due deliveries, its retry timers, its rate limiter (`governor`),
//! its `max_in_flight` budget and its throttle state, and starts one DeliveryActor per attempt.
//!
//! Takes: [`Dispatch`], [`Enqueue`], [`Refresh`], [`AttemptDone`], [`GetLoad`], [`Shutdown`].
//! Sends: [`RecordOutcome`] to the persistence actor, [`ActorStopped`] to the supervisor,
//! attempt events to the live stream.
//! Must never: hold more than `READY_MAX` payloads in memory, send while the subscription is
//! paused or disabled, exceed `max_in_flight` or the rate limit, or drop a delivery (what it
//! lets go of is in Postgres, due or held).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng as _;
use tokio::sync::OwnedSemaphorePermit;
use uuid::Uuid;

use crate::db::deliveries::{self, StatusUpdate};
use crate::db::subscriptions::SubscriptionRow;
use crate::delivery::{AttemptOutcome, AttemptSpec, DeliveryActor};
use crate::domain::{DeliveryStatus, ErrorClass, SubscriptionStatus};
use crate::engine::{AttemptEvent, EngineDeps};
use crate::job::DeliveryJob;
use crate::messages::{
    ActorStopped, AttemptDone, AttemptStarted, Dispatch, EngineLoad, Enqueue, GetLoad,
    RecordOutcome, Refresh, Shutdown,
};
use crate::retry::{
    FailureHint, honours_retry_after, is_throttling_status, next_retry_delay, should_disable,
    throttle_backoff,
};
use crate::retry_store::ScheduledRetry;

/// Most jobs held with their payloads; beyond it jobs wait as ids and are loaded when due.
pub const READY_MAX: usize = 2_000;
/// Jobs loaded from Postgres at a time.
const LOAD_BATCH: usize = 500;
/// How long a finished id is remembered, so a sweep racing the outcome write cannot resend it.
const RECENTLY_DONE: Duration = Duration::from_secs(120);
/// An actor with nothing to do for this long stops.
const IDLE_STOP: Duration = Duration::from_secs(60);

pub struct SubscriptionActor {
    sub: Arc<SubscriptionRow>,
    deps: Arc<EngineDeps>,
    supervisor: Recipient<ActorStopped>,
    /// Due now, payload in hand, in order.
    ready: VecDeque<DeliveryJob>,
    /// Due now, known by id only: loaded in batches when `ready` runs dry.
    to_load: VecDeque<Uuid>,
    /// Future retries: `(due ms, id)`, fired by one timer at the earliest.
    scheduled: BTreeSet<(i64, Uuid)>,
    /// Every id in `ready`, `to_load`, `scheduled` or in flight.
    known: HashSet<Uuid>,
    /// Attempts made so far by the retries this actor scheduled, as it knows them: Postgres
    /// may lag behind while outcome writes are queued, and a retry must not reuse a number.
    attempts_made: HashMap<Uuid, (i32, i32)>,
    recently_done: HashMap<Uuid, Instant>,
    in_flight: usize,
    loading: bool,
    limiter: Option<DefaultDirectRateLimiter>,
    throttled_until: Option<Instant>,
    consecutive_throttles: u32,
    failing_since: Option<DateTime<Utc>>,
    wake: Option<(Instant, SpawnHandle)>,
    last_busy: Instant,
    /// Shutting down: no new attempts; stop when the last one in flight reports.
    stopping: bool,
    /// A node-wide attempt permit obtained while waiting, kept for the next attempt.
    permit: Option<OwnedSemaphorePermit>,
    /// Waiting for a node-wide permit (all `COURIER_MAX_ATTEMPTS_IN_FLIGHT` are taken).
    awaiting_permit: bool,
}

impl SubscriptionActor {
    pub fn new(
        sub: Arc<SubscriptionRow>,
        deps: Arc<EngineDeps>,
        supervisor: Recipient<ActorStopped>,
    ) -> Self {
        Self {
            limiter: limiter_for(&sub),
            failing_since: sub.failing_since,
            sub,
            deps,
            supervisor,
            ready: VecDeque::new(),
            to_load: VecDeque::new(),
            scheduled: BTreeSet::new(),
            known: HashSet::new(),
            attempts_made: HashMap::new(),
            recently_done: HashMap::new(),
            in_flight: 0,
            loading: false,
            throttled_until: None,
            consecutive_throttles: 0,
            wake: None,
            last_busy: Instant::now(),
            stopping: false,
            permit: None,
            awaiting_permit: false,
        }
    }

    fn is_active(&self) -> bool {
        !self.stopping && self.sub.status() == SubscriptionStatus::Active
    }

    fn load(&self) -> EngineLoad {
        EngineLoad {
            actors: 1,
            queued: self.ready.len() + self.to_load.len(),
            scheduled: self.scheduled.len(),
            in_flight: self.in_flight,
        }
    }

    /// Accepts an id unless it is already held or has just finished.
    fn admit(&mut self, id: Uuid) -> bool {
        !self.recently_done.contains_key(&id) && self.known.insert(id)
    }

    fn add_ready(&mut self, mut job: DeliveryJob) {
        if !self.admit(job.delivery_id) {
            return;
        }
        if self.ready.len() >= READY_MAX {
            job.payload = None;
        }
        if job.payload.is_some() {
            self.ready.push_back(job);
        } else {
            self.to_load.push_back(job.delivery_id);
        }
    }

    fn add_by_id(&mut self, id: Uuid, due_ms: i64, now_ms: i64) {
        if !self.admit(id) {
            return;
        }
        if due_ms <= now_ms {
            self.to_load.push_back(id);
        } else {
            self.scheduled.insert((due_ms, id));
        }
    }

    /// Sends as much as the budgets allow, loads payloads when needed, arms the timer.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        self.promote_due();
        while self.is_active() && self.in_flight < self.max_in_flight() {
            if let Some(until) = self.throttled_until.filter(|u| *u > Instant::now()) {
                self.arm(ctx, until);
                break;
            }
            if self.ready.is_empty() {
                self.start_load(ctx);
                break;
            }
            let Some(permit) = self.take_permit(ctx) else {
                break;
            };
            if let Some(wait) = self.rate_wait() {
                self.permit = Some(permit);
                self.arm(ctx, Instant::now() + wait);
                break;
            }
            if let Some(job) = self.ready.pop_front() {
                self.dispatch(job, permit, ctx);
            }
        }
        if let Some(&(due_ms, _)) = self.scheduled.iter().next() {
            let wait = Duration::from_millis(
                u64::try_from(due_ms - Utc::now().timestamp_millis()).unwrap_or(0),
            );
            self.arm(ctx, Instant::now() + wait);
        }
        if !self.is_idle() {
            self.last_busy = Instant::now();
        }
    }

    /// A node-wide attempt permit, or `None` while all are taken (the actor is woken when
    /// one frees up). The permits bound memory however many subscriptions have work at once.
    fn take_permit(&mut self, ctx: &mut Context<Self>) -> Option<OwnedSemaphorePermit> {
        if let Some(p) = self.permit.take() {
            return Some(p);
        }
        if let Ok(p) = self.deps.attempt_permits.clone().try_acquire_owned() {
            return Some(p);
        }
        if !self.awaiting_permit {
            self.awaiting_permit = true;
            let permits = self.deps.attempt_permits.clone();
            ctx.spawn(
                permits
                    .acquire_owned()
                    .into_actor(self)
                    .map(|granted, act, ctx| {
                        act.awaiting_permit = false;
                        act.permit = granted.ok();
                        act.pump(ctx);
                    }),
            );
        }
        None
    }

    fn max_in_flight(&self) -> usize {
        usize::try_from(self.sub.max_in_flight).unwrap_or(1).max(1)
    }

    fn is_idle(&self) -> bool {
        self.ready.is_empty()
            && self.to_load.is_empty()
            && self.scheduled.is_empty()
            && self.in_flight == 0
    }

    fn rate_wait(&self) -> Option<Duration> {
        let limiter = self.limiter.as_ref()?;
        limiter
            .check()
            .err()
            .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Moves retries whose time has come to `to_load`.
    fn promote_due(&mut self) {
        let now_ms = Utc::now().timestamp_millis();
        while let Some(&(due, id)) = self.scheduled.iter().next() {
            if due > now_ms {
                break;
            }
            self.scheduled.remove(&(due, id));
            self.to_load.push_back(id);
        }
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

    fn start_load(&mut self, ctx: &mut Context<Self>) {
        if self.loading || self.to_load.is_empty() {
            return;
        }
        let n = self.to_load.len().min(LOAD_BATCH);
        let ids: Vec<Uuid> = self.to_load.drain(..n).collect();
        self.loading = true;
        let db = self.deps.db.clone();
        let fut = async move { (deliveries::load_jobs(&db, &ids).await, ids) };
        ctx.spawn(fut.into_actor(self).map(|(result, ids), act, ctx| {
            act.loading = false;
            match result {
                Ok(jobs) => act.loaded(ids, jobs),
                Err(e) => {
                    tracing::warn!(error = %e, sub = %act.sub.id, "cannot load deliveries; retrying in 1s");
                    act.to_load.extend(ids);
                    act.arm(ctx, Instant::now() + Duration::from_secs(1));
                    return;
                }
            }
            act.pump(ctx);
        }));
    }

    /// Jobs loaded from Postgres join `ready`; ids that came back empty were finished elsewhere.
    fn loaded(&mut self, ids: Vec<Uuid>, jobs: Vec<DeliveryJob>) {
        let found: HashSet<Uuid> = jobs.iter().map(|j| j.delivery_id).collect();
        for id in ids.iter().filter(|id| !found.contains(id)) {
            self.known.remove(id);
            self.attempts_made.remove(id);
        }
        let mut by_id: HashMap<Uuid, DeliveryJob> =
            jobs.into_iter().map(|j| (j.delivery_id, j)).collect();
        for id in ids {
            let remembered = self.attempts_made.remove(&id);
            if let Some(mut job) = by_id.remove(&id) {
                if let Some((made, base)) = remembered.filter(|(made, _)| *made > job.attempts_made)
                {
                    job.attempts_made = made;
                    job.attempt_base = base;
                }
                self.ready.push_back(job);
            }
        }
    }

    fn dispatch(
        &mut self,
        job: DeliveryJob,
        permit: OwnedSemaphorePermit,
        ctx: &mut Context<Self>,
    ) {
        let Some(payload) = job.payload.clone() else {
            self.to_load.push_back(job.delivery_id);
            self.permit = Some(permit);
            return;
        };
        self.in_flight += 1;
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
        };
        self.deps.persistence.do_send(AttemptStarted {
            subscription_id: self.sub.id,
            delivery_id: spec.job.delivery_id,
        });
        DeliveryActor::new(spec, ctx.address().recipient(), permit).start();
    }

    /// An operator asked for `id` now: a retry waiting for its time is taken off the timer
    /// (the caller queues it as due).
    fn bring_forward(&mut self, id: Uuid) {
        if let Some(entry) = self.scheduled.iter().find(|(_, d)| *d == id).copied() {
            self.scheduled.remove(&entry);
            self.known.remove(&id);
        }
    }

    /// Drops everything held in memory: the subscription is paused or disabled, and Postgres
    /// holds those deliveries (status `paused`).
    fn release_memory(&mut self) {
        self.ready.clear();
        self.to_load.clear();
        self.scheduled.clear();
        self.known.clear();
        self.attempts_made.clear();
        self.permit = None;
    }
}

fn limiter_for(sub: &SubscriptionRow) -> Option<DefaultDirectRateLimiter> {
    let rate = NonZeroU32::new(u32::try_from(sub.rate_limit_per_second?).ok()?)?;
    Some(RateLimiter::direct(Quota::per_second(rate)))
}

impl Actor for SubscriptionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(100_000);
        ctx.run_interval(Duration::from_secs(10), |act, ctx| {
            let now = Instant::now();
            act.recently_done
                .retain(|_, at| now.duration_since(*at) < RECENTLY_DONE);
            if act.is_idle()
                && act.recently_done.is_empty()
                && now.duration_since(act.last_busy) >= IDLE_STOP
            {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.supervisor.do_send(ActorStopped {
            id: self.sub.id,
            addr: ctx.address(),
        });
    }
}

impl Handler<Dispatch> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, ctx: &mut Self::Context) {
        if !self.is_active() {
            return;
        }
        for job in msg.jobs {
            self.add_ready(job);
        }
        self.pump(ctx);
    }
}

impl Handler<Enqueue> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, msg: Enqueue, ctx: &mut Self::Context) {
        if !self.is_active() {
            return;
        }
        let now_ms = Utc::now().timestamp_millis();
        for (id, due) in msg.deliveries {
            if msg.force {
                self.recently_done.remove(&id);
                self.bring_forward(id);
            }
            self.add_by_id(id, due, now_ms);
        }
        self.pump(ctx);
    }
}

impl Handler<Refresh> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, msg: Refresh, ctx: &mut Self::Context) {
        let rate_changed = msg.row.rate_limit_per_second != self.sub.rate_limit_per_second;
        if msg.row.status != self.sub.status {
            // Resumed (or paused): the failing streak and the throttle start over.
            self.failing_since = msg.row.failing_since;
            self.throttled_until = None;
            self.consecutive_throttles = 0;
        }
        self.sub = msg.row;
        if rate_changed {
            self.limiter = limiter_for(&self.sub);
        }
        if !self.is_active() {
            self.release_memory();
        }
        self.pump(ctx);
    }
}

impl Handler<GetLoad> for SubscriptionActor {
    type Result = MessageResult<GetLoad>;

    fn handle(&mut self, _msg: GetLoad, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.load())
    }
}

impl Handler<Shutdown> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Self::Context) {
        self.stopping = true;
        self.release_memory();
        if self.in_flight == 0 {
            ctx.stop();
        }
    }
}

/// What an outcome does to the delivery and the subscription.
struct Decision {
    status: DeliveryStatus,
    retry_in: Option<Duration>,
    disable_reason: Option<String>,
}

impl SubscriptionActor {
    fn decide(
        &mut self,
        job: &DeliveryJob,
        outcome: &AttemptOutcome,
        now: DateTime<Utc>,
    ) -> Decision {
        let (status_code, class) = match outcome {
            AttemptOutcome::Success { .. } => {
                self.consecutive_throttles = 0;
                return Decision {
                    status: DeliveryStatus::Succeeded,
                    retry_in: None,
                    disable_reason: None,
                };
            }
            AttemptOutcome::HttpStatus { status, .. } => (Some(*status), ErrorClass::HttpStatus),
            AttemptOutcome::Failed { class } => (None, *class),
        };
        if status_code == Some(410) {
            let reason = format!("the receiver answered 410 Gone at {}", now.to_rfc3339());
            return Decision {
                status: DeliveryStatus::Paused,
                retry_in: None,
                disable_reason: Some(reason),
            };
        }
        let retry_after = match outcome {
            AttemptOutcome::HttpStatus {
                status,
                retry_after,
            } if honours_retry_after(*status) => *retry_after,
            _ => None,
        };
        if let Some(code) = status_code.filter(|c| is_throttling_status(*c)) {
            self.consecutive_throttles += 1;
            let pause = throttle_backoff(
                self.consecutive_throttles,
                retry_after,
                self.deps.config.retry_after_cap,
            );
            self.throttled_until = Some(Instant::now() + pause);
            tracing::info!(sub = %self.sub.id, status = code, ?pause, "receiver is throttling; slowing the subscription");
        }
        let made = u32::try_from(job.attempts_made + 1 - job.attempt_base).unwrap_or(u32::MAX);
        let retry_in = if class == ErrorClass::BlockedTarget {
            None
        } else {
            let jitter = rand::rng().random_range(-1.0..=1.0);
            let hint = FailureHint { retry_after };
            next_retry_delay(
                &self.deps.config.retry_schedule,
                made,
                jitter,
                hint,
                self.deps.config.retry_after_cap,
            )
        };
        let failing_since = *self.failing_since.get_or_insert(now);
        let disable_reason = should_disable(
            Some(failing_since.timestamp_millis()),
            now.timestamp_millis(),
            self.deps.config.disable_after,
        )
        .then(|| {
            format!(
                "every delivery has failed since {}",
                failing_since.to_rfc3339()
            )
        });
        let status = match (&disable_reason, retry_in) {
            (Some(_), _) => DeliveryStatus::Paused,
            (None, Some(_)) => DeliveryStatus::Retrying,
            (None, None) => DeliveryStatus::Failed,
        };
        Decision {
            status,
            retry_in,
            disable_reason,
        }
    }

    fn record(&mut self, done: AttemptDone, decision: &Decision, now: DateTime<Utc>) {
        let job = &done.job;
        let next = decision
            .retry_in
            .filter(|_| decision.status == DeliveryStatus::Retrying);
        let next_at = next.map(|d| now + chrono::Duration::from_std(d).unwrap_or_default());
        let update = StatusUpdate {
            id: job.delivery_id,
            status: decision.status,
            attempt_count: job.attempts_made + 1,
            next_attempt_at: next_at,
            last_attempt_at: done.attempt.attempted_at,
            last_status_code: done.attempt.status_code,
            last_error: done.attempt.error_message.clone(),
        };
        let schedule = next_at.map(|at| ScheduledRetry {
            subscription_id: self.sub.id,
            delivery_id: job.delivery_id,
            due_ms: at.timestamp_millis(),
        });
        let event = AttemptEvent {
            subscription_id: self.sub.id,
            delivery_id: job.delivery_id,
            message_id: job.message_id,
            event_type: job.event_type.to_string(),
            delivery_status: decision.status.as_str(),
            attempt: done.attempt.clone(),
        };
        self.deps.publish(event);
        record_metrics(&done, decision.status);
        self.deps.persistence.do_send(RecordOutcome {
            subscription_id: self.sub.id,
            attempt: done.attempt,
            update,
            schedule,
        });
        if let Some(at) = next_at {
            let mut retry = done.job;
            retry.attempts_made += 1;
            retry.payload = None;
            self.known.insert(retry.delivery_id);
            self.attempts_made
                .insert(retry.delivery_id, (retry.attempts_made, retry.attempt_base));
            self.scheduled
                .insert((at.timestamp_millis(), retry.delivery_id));
        } else {
            self.recently_done.insert(job.delivery_id, Instant::now());
        }
    }

    fn note_health(&mut self, succeeded: bool, ctx: &mut Context<Self>) {
        let changed_to = match (succeeded, self.sub.failing_since) {
            (true, Some(_)) => Some(None),
            (false, None) => Some(self.failing_since),
            _ => None,
        };
        if succeeded {
            self.failing_since = None;
        }
        let Some(value) = changed_to else { return };
        let mut row = (*self.sub).clone();
        row.failing_since = value;
        self.sub = Arc::new(row);
        let (deps, id) = (self.deps.clone(), self.sub.id);
        ctx.spawn(
            async move { deps.set_failing_since(id, value).await }
                .into_actor(self)
                .map(|_, _, _| ()),
        );
    }

    fn disable(&mut self, reason: String, ctx: &mut Context<Self>) {
        tracing::warn!(sub = %self.sub.id, %reason, "disabling subscription; its deliveries are held");
        let mut row = (*self.sub).clone();
        row.status = SubscriptionStatus::Disabled.as_str().to_owned();
        row.disabled_reason = Some(reason.clone());
        self.sub = Arc::new(row);
        self.release_memory();
        let (deps, id) = (self.deps.clone(), self.sub.id);
        ctx.spawn(
            async move { deps.disable(id, &reason).await }
                .into_actor(self)
                .map(|_, _, _| ()),
        );
    }
}

impl Handler<AttemptDone> for SubscriptionActor {
    type Result = ();

    fn handle(&mut self, done: AttemptDone, ctx: &mut Self::Context) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.known.remove(&done.job.delivery_id);
        let now = Utc::now();
        let decision = self.decide(&done.job, &done.outcome, now);
        let succeeded = decision.status == DeliveryStatus::Succeeded;
        let disable = decision.disable_reason.clone();
        self.record(done, &decision, now);
        self.note_health(succeeded, ctx);
        if let Some(reason) = disable {
            self.disable(reason, ctx);
        }
        if self.stopping && self.in_flight == 0 {
            ctx.stop();
            return;
        }
        self.pump(ctx);
    }
}

/// Counters and histograms of one finished attempt.
fn record_metrics(done: &AttemptDone, status: DeliveryStatus) {
    let outcome = match &done.outcome {
        AttemptOutcome::Success { .. } => "success",
        AttemptOutcome::HttpStatus { .. } => "http_status",
        AttemptOutcome::Failed { class } => class.as_str(),
    };
    metrics::counter!("courier_attempts_total", "outcome" => outcome).increment(1);
    metrics::histogram!("courier_attempt_duration_seconds")
        .record(f64::from(done.attempt.duration_ms) / 1000.0);
    if status.is_final() {
        metrics::counter!("courier_deliveries_finished_total", "status" => status.as_str())
            .increment(1);
    }
    if status == DeliveryStatus::Succeeded
        && let Some((secs, nanos)) = done.job.message_id.get_timestamp().map(|t| t.to_unix())
    {
        let accepted_ms = secs as f64 * 1000.0 + f64::from(nanos) / 1e6;
        let latency = (Utc::now().timestamp_millis() as f64 - accepted_ms).max(0.0) / 1000.0;
        metrics::histogram!("courier_delivery_latency_seconds").record(latency);
    }
}
