//! The decision core of a subscription actor: what to send next, when to load or page work
//! from Postgres, when to wake, and what an outcome means (retry, throttle, disable, the
//! failing streak). Pure state and rules — no I/O, no timers, no randomness it was not
//! handed — and time comes from an injected [`Clock`], so tests drive it step by step.
//!
//! Work arrives four ways: jobs with payloads (fresh ingests), ids with due times (retries
//! Redis remembered, operator requeues), a "backlog" note (the sweeper saw due rows in
//! Postgres: the core pages through them itself, in due order, by keyset), and its own
//! retries. An id is held at most once (`known`), and an id whose outcome is not yet written
//! (`unwritten`) or was written within [`RECENT`] (or after the page being read was asked
//! for) is never taken again from a page or a hand-over, so nothing is sent twice by this
//! node.
//!
//! Must never: exceed its adaptive concurrency (within `max_in_flight`) or the rate limit, send while throttled or inactive,
//! hold more than [`READY_MAX`] payloads.

use std::collections::{BTreeSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use uuid::Uuid;

use super::concurrency::{Adaptive, Signal};
use super::keys::Keys;
use super::tables::{IdMap, IdSet};
use crate::clock::{Clock, GovernorClock};
use crate::db::deliveries::PageCursor;
use crate::db::health::Health;
use crate::db::subscriptions::SubscriptionRow;
use crate::delivery::AttemptOutcome;
use crate::domain::{DeliveryStatus, ErrorClass, SubscriptionStatus};
use crate::job::DeliveryJob;
use crate::retry::RetrySchedule;

/// Most jobs held with their payloads; beyond it work waits in Postgres or as ids.
pub const READY_MAX: usize = 2_000;
/// Below this many ready jobs, more are loaded.
const LOW_WATER: usize = READY_MAX / 4;
/// Ids loaded (or rows paged) per Postgres round trip.
pub const LOAD_BATCH: usize = 500;
/// How long an id is remembered after its outcome is written: a page read before that
/// write, or a peer's hand-over that was slow to arrive, may still name it as due.
pub const RECENT: Duration = Duration::from_secs(2);

/// What every subscription's core shares.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub retry_schedule: RetrySchedule,
    pub retry_after_cap: Duration,
    pub disable_after: Duration,
    /// The attempt timeout of a subscription without its own.
    pub delivery_timeout: Duration,
}

/// What the shell should do next.
#[derive(Debug)]
pub enum Step {
    /// Send this job now (an in-flight slot and the rate token are taken).
    Send(DeliveryJob),
    /// Load these ids' payloads from Postgres.
    Load(Vec<Uuid>),
    /// Read the next page of the backlog after this cursor.
    Page(Option<PageCursor>),
    /// Read the heads of these ordering keys.
    Heads(Vec<String>),
    /// A job is ready but a node-wide attempt permit is needed first.
    NeedPermit,
    /// Nothing more now; wake at this instant.
    WaitUntil(Instant),
    /// Nothing to do until something arrives.
    Idle,
}

/// What an outcome decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Disable the subscription, for this reason.
    pub disable: Option<String>,
    /// The subscription's health after this outcome, when it changed.
    pub health: Option<Health>,
    /// The adaptive concurrency limit after this outcome, when it changed.
    pub concurrency: Option<i32>,
}

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, GovernorClock<C>, NoOpMiddleware<Instant>>;

pub struct Core<C: Clock> {
    clock: C,
    cfg: Arc<CoreConfig>,
    active: bool,
    /// How many attempts may be in flight now (adaptive, within `max_in_flight`).
    adaptive: Adaptive,
    timeout: Duration,
    /// Its own retry schedule, when it has one (boxed: most have none).
    schedule: Option<Box<RetrySchedule>>,
    rate: Option<i32>,
    /// Only subscriptions with a rate limit have one (boxed: most have none).
    limiter: Option<Box<Limiter<C>>>,
    /// Due now, payload in hand, in order.
    ready: VecDeque<DeliveryJob>,
    /// Due now, known by id only.
    to_load: VecDeque<Uuid>,
    /// Future attempts: `(due ms, id)`.
    scheduled: BTreeSet<(i64, Uuid)>,
    /// Every id in `ready`, `to_load`, `scheduled` or in flight.
    known: IdSet,
    /// Outcomes handed to the persistence actor and not yet written.
    /// How many of each id's outcomes are handed over and not yet written (a retry can be
    /// sent, and its outcome handed over, before the previous outcome's write returns).
    unwritten: IdMap<u32>,
    /// Ids whose outcomes were written within [`RECENT`], oldest first, and as a set.
    recent: VecDeque<(Instant, Uuid)>,
    recent_ids: IdSet,
    /// Attempts made so far by the retries scheduled here (Postgres may lag behind).
    attempts_made: IdMap<(i32, i32)>,
    /// Postgres may hold due rows not in memory; page from this cursor.
    backlog: Option<Option<PageCursor>>,
    /// Ordering keys: which delivery each may send.
    keys: Keys,
    loading: bool,
    /// When the page being read was asked for (none is being read when `None`).
    paging: Option<Instant>,
    in_flight: usize,
    throttled_until: Option<Instant>,
    consecutive_throttles: u32,
    health: Health,
}

impl<C: Clock> Core<C> {
    pub fn new(clock: C, cfg: Arc<CoreConfig>, row: &SubscriptionRow, health: Health) -> Self {
        let mut core = Self {
            limiter: None,
            clock,
            cfg,
            active: false,
            adaptive: Adaptive::new(usize::try_from(row.max_in_flight).unwrap_or(1)),
            timeout: Duration::ZERO,
            schedule: None,
            rate: None,
            ready: VecDeque::new(),
            to_load: VecDeque::new(),
            scheduled: BTreeSet::new(),
            known: IdSet::default(),
            unwritten: IdMap::default(),
            recent: VecDeque::new(),
            recent_ids: IdSet::default(),
            attempts_made: IdMap::default(),
            backlog: None,
            keys: Keys::default(),
            loading: false,
            paging: None,
            in_flight: 0,
            throttled_until: None,
            consecutive_throttles: 0,
            health,
        };
        core.refresh(row);
        core
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The failing streak as Postgres knew it when the actor started.
    pub fn set_health(&mut self, health: Health) {
        self.health = health;
    }

    /// The failing streak now.
    pub fn health(&self) -> Health {
        self.health
    }

    /// Takes the subscription's new configuration. A resume starts the streak and the
    /// throttle over; anything but active drops what memory holds (Postgres keeps it).
    pub fn refresh(&mut self, row: &SubscriptionRow) {
        let was_active = self.active;
        self.active = row.status() == SubscriptionStatus::Active;
        self.adaptive
            .set_max(usize::try_from(row.max_in_flight).unwrap_or(1));
        self.timeout = row
            .timeout_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map_or(self.cfg.delivery_timeout, Duration::from_millis);
        self.schedule = row.retry_schedule().map(Box::new);
        if self.rate != row.rate_limit_per_second || self.limiter.is_none() {
            self.rate = row.rate_limit_per_second;
            self.limiter = limiter(row.rate_limit_per_second, &self.clock);
        }
        if self.active && !was_active {
            self.throttled_until = None;
            self.consecutive_throttles = 0;
            self.adaptive = Adaptive::new(usize::try_from(row.max_in_flight).unwrap_or(1));
        }
        if !self.active {
            self.release_memory();
        }
    }

    /// Stops for good: nothing more is sent (in-flight attempts still report).
    pub fn stop(&mut self) {
        self.active = false;
        self.release_memory();
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Attempts it may have in flight now (adaptive).
    pub fn concurrency(&self) -> usize {
        self.adaptive.limit()
    }

    /// Whether the receiver has made it go below `max_in_flight`.
    pub fn concurrency_reduced(&self) -> bool {
        self.adaptive.is_reduced()
    }

    pub fn queued(&self) -> usize {
        self.ready.len() + self.to_load.len()
    }

    pub fn scheduled(&self) -> usize {
        self.scheduled.len()
    }

    pub fn is_idle(&self) -> bool {
        self.ready.is_empty()
            && self.to_load.is_empty()
            && self.scheduled.is_empty()
            && self.backlog.is_none()
            && self.in_flight == 0
            && self.unwritten.is_empty()
            && !self.loading
            && self.paging.is_none()
            && self.keys.is_idle()
    }

    /// Whether a job may be held now: not held or unwritten already, and the head of its
    /// ordering key if it has one.
    fn admit_job(&mut self, job: &DeliveryJob) -> bool {
        if let Some(key) = &job.ordering_key
            && !self.keys.admit(key, job.delivery_id)
        {
            return false;
        }
        self.admit(job.delivery_id)
    }

    fn admit(&mut self, id: Uuid) -> bool {
        self.forget_old();
        !self.unwritten.contains_key(&id) && !self.recent_ids.contains(&id) && self.known.insert(id)
    }

    fn forget_old(&mut self) {
        let now = self.clock.now();
        while let Some(&(at, id)) = self.recent.front() {
            // Kept while a page asked for before its write is still being read, however
            // long that takes: that page shows it as it was, still due.
            if now.saturating_duration_since(at) < RECENT || self.paging.is_some_and(|p| p <= at) {
                break;
            }
            self.recent.pop_front();
            self.recent_ids.remove(&id);
        }
    }

    /// The next step, given whether a node-wide attempt permit is in hand.
    pub fn plan(&mut self, have_permit: bool) -> Step {
        let now = self.clock.now();
        self.promote_due();
        if !self.active {
            return Step::Idle;
        }
        if let Some(keys) = self.keys.take_lookups(LOAD_BATCH) {
            return Step::Heads(keys);
        }
        if self.ready.len() < LOW_WATER {
            if !self.loading && !self.to_load.is_empty() {
                self.loading = true;
                let n = self.to_load.len().min(LOAD_BATCH);
                return Step::Load(self.to_load.drain(..n).collect());
            }
            if let Some(cursor) = self.backlog.filter(|_| self.paging.is_none()) {
                self.paging = Some(now);
                return Step::Page(cursor);
            }
        }
        if let Some(until) = self.throttled_until.filter(|u| *u > now) {
            return self.wait(Some(until));
        }
        if self.ready.is_empty() || self.in_flight >= self.adaptive.limit() {
            return self.wait(None);
        }
        if !have_permit {
            return Step::NeedPermit;
        }
        if let Some(wait) = self.rate_wait(now) {
            return self.wait(Some(now + wait));
        }
        match self.ready.pop_front() {
            Some(job) => {
                self.in_flight += 1;
                self.adaptive.sent(job.delivery_id, now);
                Step::Send(job)
            }
            None => self.wait(None),
        }
    }

    /// `WaitUntil` the earliest of `at` and the next scheduled retry, or `Idle`.
    fn wait(&self, at: Option<Instant>) -> Step {
        let next_retry = self.scheduled.iter().next().map(|(due, _)| {
            let ms = due - self.clock.wall().timestamp_millis();
            self.clock.now() + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        });
        match (at, next_retry) {
            (Some(a), Some(b)) => Step::WaitUntil(a.min(b)),
            (Some(t), None) | (None, Some(t)) => Step::WaitUntil(t),
            (None, None) => Step::Idle,
        }
    }

    fn rate_wait(&self, now: Instant) -> Option<Duration> {
        let limiter = self.limiter.as_ref()?;
        limiter
            .check()
            .err()
            .map(|not_until| not_until.wait_time_from(now))
    }

    /// Moves retries whose time has come to `to_load`.
    fn promote_due(&mut self) {
        let now_ms = self.clock.wall().timestamp_millis();
        while let Some(&(due, id)) = self.scheduled.iter().next() {
            if due > now_ms {
                break;
            }
            self.scheduled.remove(&(due, id));
            self.to_load.push_back(id);
        }
    }

    /// An attempt handed out by `plan` could not start (no payload, lost lease): it goes back.
    pub fn unsend(&mut self, job: DeliveryJob) {
        tracing::trace!(id = %job.delivery_id, "attempt not started");
        self.in_flight = self.in_flight.saturating_sub(1);
        self.known.remove(&job.delivery_id);
        self.adaptive.unsent(job.delivery_id);
    }

    /// An attempt finished: decides what it means for the delivery and the subscription.
    pub fn outcome(&mut self, job: &DeliveryJob, outcome: &AttemptOutcome) -> Decision {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.known.remove(&job.delivery_id);
        *self.unwritten.entry(job.delivery_id).or_default() += 1;
        let mut decision = self.decide(job, outcome);
        let signal = match outcome {
            AttemptOutcome::Success { .. } => Signal::Success,
            AttemptOutcome::HttpStatus {
                status: 429 | 503, ..
            }
            | AttemptOutcome::Failed {
                class: ErrorClass::Timeout,
            } => Signal::Overloaded,
            _ => Signal::Neutral,
        };
        let now = self.clock.now();
        if self
            .adaptive
            .finished(job.delivery_id, signal, now, self.timeout)
        {
            decision.concurrency = i32::try_from(self.adaptive.limit()).ok();
        }
        if let Some(at) = decision.next_attempt_at {
            let id = job.delivery_id;
            self.known.insert(id);
            self.attempts_made
                .insert(id, (job.attempts_made + 1, job.attempt_base));
            self.scheduled.insert((at.timestamp_millis(), id));
        }
        if let Some(key) = &job.ordering_key
            && decision.status.is_final()
        {
            self.keys.finished(key, job.delivery_id);
        }
        if decision.disable.is_some() {
            self.stop();
        }
        decision
    }

    /// An outcome of `id` is written (they are written in the order they were handed over).
    /// Once the last one is: for [`RECENT`] a page or a hand-over naming it is taken for one
    /// read before the write, not resent, and its key (if it was a head) reads its next head
    /// — never sooner, or Postgres could still show it as the head.
    pub fn written(&mut self, id: Uuid) {
        match self.unwritten.get_mut(&id) {
            Some(n) if *n > 1 => {
                *n -= 1;
                return;
            }
            _ => {
                self.unwritten.remove(&id);
            }
        }
        self.keys.written(id);
        self.forget_old();
        if self.recent_ids.insert(id) {
            self.recent.push_back((self.clock.now(), id));
        }
    }
}

fn limiter<C: Clock>(rate: Option<i32>, clock: &C) -> Option<Box<Limiter<C>>> {
    let rate = NonZeroU32::new(u32::try_from(rate?).ok()?)?;
    Some(Box::new(RateLimiter::direct_with_clock(
        Quota::per_second(rate),
        GovernorClock(clock.clone()),
    )))
}

#[path = "decide.rs"]
mod decide;
#[path = "intake.rs"]
mod intake;
#[path = "memory.rs"]
mod memory;

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
