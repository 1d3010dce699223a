//! The decision core of a subscription actor: what to send next, when to load or page work
//! from Postgres, when to wake, and what an outcome means (retry, throttle, disable, the
//! failing streak). Pure state and rules — no I/O, no timers, no randomness it was not
//! handed — and time comes from an injected [`Clock`], so tests drive it step by step.
//!
//! Work arrives four ways: jobs with payloads (fresh ingests), ids with due times (retries
//! Redis remembered, operator requeues), a "backlog" note (the sweeper saw due rows in
//! Postgres: the core pages through them itself, in due order, by keyset), and its own
//! retries. An id is held at most once (`known`), and an id whose outcome is not yet written
//! (`unwritten`) or was written within [`RECENT`] is never taken again from a page or a
//! hand-over, so nothing is sent twice by this node.
//!
//! Must never: exceed `max_in_flight` or the rate limit, send while throttled or inactive,
//! hold more than [`READY_MAX`] payloads.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use uuid::Uuid;

use super::keys::Keys;
use crate::clock::{Clock, GovernorClock};
use crate::db::deliveries::PageCursor;
use crate::db::health::Health;
use crate::db::subscriptions::SubscriptionRow;
use crate::delivery::AttemptOutcome;
use crate::domain::{DeliveryStatus, ErrorClass, SubscriptionStatus};
use crate::job::DeliveryJob;
use crate::retry::{
    FailureHint, RetrySchedule, honours_retry_after, is_throttling_status, next_retry_delay,
    should_disable, throttle_backoff,
};

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
}

type Limiter<C> = RateLimiter<NotKeyed, InMemoryState, GovernorClock<C>, NoOpMiddleware<Instant>>;

pub struct Core<C: Clock> {
    clock: C,
    cfg: Arc<CoreConfig>,
    active: bool,
    max_in_flight: usize,
    /// Its own retry schedule, when it has one.
    schedule: Option<RetrySchedule>,
    rate: Option<i32>,
    limiter: Option<Limiter<C>>,
    /// Due now, payload in hand, in order.
    ready: VecDeque<DeliveryJob>,
    /// Due now, known by id only.
    to_load: VecDeque<Uuid>,
    /// Future attempts: `(due ms, id)`.
    scheduled: BTreeSet<(i64, Uuid)>,
    /// Every id in `ready`, `to_load`, `scheduled` or in flight.
    known: HashSet<Uuid>,
    /// Outcomes handed to the persistence actor and not yet written.
    unwritten: HashSet<Uuid>,
    /// Ids whose outcomes were written within [`RECENT`], oldest first, and as a set.
    recent: VecDeque<(Instant, Uuid)>,
    recent_ids: HashSet<Uuid>,
    /// Attempts made so far by the retries scheduled here (Postgres may lag behind).
    attempts_made: HashMap<Uuid, (i32, i32)>,
    /// Postgres may hold due rows not in memory; page from this cursor.
    backlog: Option<Option<PageCursor>>,
    /// Ordering keys: which delivery each may send.
    keys: Keys,
    loading: bool,
    paging: bool,
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
            max_in_flight: 1,
            schedule: None,
            rate: None,
            ready: VecDeque::new(),
            to_load: VecDeque::new(),
            scheduled: BTreeSet::new(),
            known: HashSet::new(),
            unwritten: HashSet::new(),
            recent: VecDeque::new(),
            recent_ids: HashSet::new(),
            attempts_made: HashMap::new(),
            backlog: None,
            keys: Keys::default(),
            loading: false,
            paging: false,
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
        self.max_in_flight = usize::try_from(row.max_in_flight).unwrap_or(1).max(1);
        self.schedule = row.retry_schedule();
        if self.rate != row.rate_limit_per_second || self.limiter.is_none() {
            self.rate = row.rate_limit_per_second;
            self.limiter = limiter(row.rate_limit_per_second, &self.clock);
        }
        if self.active && !was_active {
            self.throttled_until = None;
            self.consecutive_throttles = 0;
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
            && !self.paging
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
        !self.unwritten.contains(&id) && !self.recent_ids.contains(&id) && self.known.insert(id)
    }

    fn forget_old(&mut self) {
        let now = self.clock.now();
        while let Some(&(at, id)) = self.recent.front() {
            if now.saturating_duration_since(at) < RECENT {
                break;
            }
            self.recent.pop_front();
            self.recent_ids.remove(&id);
        }
    }

    /// Fresh jobs with payloads (just committed). Past `READY_MAX` they stay in Postgres and
    /// the backlog pager finds them.
    pub fn add_jobs(&mut self, jobs: Vec<DeliveryJob>) {
        if !self.active {
            return;
        }
        for job in jobs {
            if self.ready.len() >= READY_MAX {
                self.note_backlog();
                continue;
            }
            if self.admit_job(&job) {
                self.ready.push_back(job);
            }
        }
    }

    /// Deliveries known by id, due at these times (epoch ms). `force` (an operator asked):
    /// a retry waiting for its time is brought forward.
    pub fn add_ids(&mut self, entries: Vec<(Uuid, i64)>, force: bool) {
        if !self.active {
            return;
        }
        let now_ms = self.clock.wall().timestamp_millis();
        for (id, due) in entries {
            if force && let Some(e) = self.scheduled.iter().find(|(_, d)| *d == id).copied() {
                self.scheduled.remove(&e);
                self.known.remove(&id);
            }
            if force {
                // An operator asked again: Postgres has it due whatever was sent lately.
                self.recent_ids.remove(&id);
            }
            if !self.admit(id) {
                continue;
            }
            if due <= now_ms {
                self.to_load.push_back(id);
            } else {
                self.scheduled.insert((due, id));
            }
        }
    }

    /// Postgres may hold due deliveries that memory does not: page through them.
    pub fn note_backlog(&mut self) {
        if self.active && self.backlog.is_none() {
            self.backlog = Some(None);
        }
    }

    /// Payloads loaded for `ids`; an id that came back empty finished elsewhere.
    pub fn loaded(&mut self, ids: Vec<Uuid>, jobs: Vec<DeliveryJob>) {
        self.loading = false;
        let mut by_id: HashMap<Uuid, DeliveryJob> =
            jobs.into_iter().map(|j| (j.delivery_id, j)).collect();
        for id in ids {
            let remembered = self.attempts_made.remove(&id);
            let job = by_id.remove(&id);
            // Known already (queued by id); a keyed one goes only as its key's head.
            let allowed = job.as_ref().is_some_and(|j| {
                self.active
                    && j.ordering_key
                        .as_ref()
                        .is_none_or(|k| self.keys.admit(k, id))
            });
            match job {
                Some(mut job) if allowed => {
                    if let Some((made, base)) = remembered.filter(|(m, _)| *m > job.attempts_made) {
                        job.attempts_made = made;
                        job.attempt_base = base;
                    }
                    self.ready.push_back(job);
                }
                Some(_) => {
                    self.known.remove(&id);
                }
                None => {
                    self.known.remove(&id);
                    self.keys.vanished(id);
                }
            }
        }
    }

    /// A load failed: the ids wait for the next try.
    pub fn load_failed(&mut self, ids: Vec<Uuid>) {
        self.loading = false;
        self.to_load.extend(ids);
    }

    /// A backlog page arrived, with the cursor after it; a short page means the backlog is
    /// read to the end.
    pub fn paged(&mut self, jobs: Vec<DeliveryJob>, next: Option<PageCursor>, limit: usize) {
        self.paging = false;
        let full = jobs.len() >= limit;
        for job in jobs {
            if self.active && self.admit_job(&job) {
                self.ready.push_back(job);
            }
        }
        self.backlog = match (self.active, full) {
            (true, true) => Some(next),
            _ => None,
        };
    }

    /// A page failed: the backlog stays where it was.
    pub fn page_failed(&mut self) {
        self.paging = false;
    }

    /// The heads of `asked` were read: those that may go are queued (or wait for their
    /// retry time).
    pub fn heads(&mut self, asked: Vec<String>, found: Vec<crate::db::deliveries::Head>) {
        let now_ms = self.clock.wall().timestamp_millis();
        for job in self.keys.heads(asked, found) {
            if !self.active || !self.admit(job.delivery_id) {
                continue;
            }
            if job.due_ms > now_ms {
                self.scheduled.insert((job.due_ms, job.delivery_id));
            } else {
                self.ready.push_back(job);
            }
        }
    }

    /// Reading heads failed: they are read again.
    pub fn heads_failed(&mut self, asked: Vec<String>) {
        self.keys.lookup_failed(asked);
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
            if let Some(cursor) = self.backlog.filter(|_| !self.paging) {
                self.paging = true;
                return Step::Page(cursor);
            }
        }
        if let Some(until) = self.throttled_until.filter(|u| *u > now) {
            return self.wait(Some(until));
        }
        if self.ready.is_empty() || self.in_flight >= self.max_in_flight {
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
        self.in_flight = self.in_flight.saturating_sub(1);
        self.known.remove(&job.delivery_id);
    }

    /// An attempt finished: decides what it means for the delivery and the subscription.
    pub fn outcome(&mut self, job: &DeliveryJob, outcome: &AttemptOutcome) -> Decision {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.known.remove(&job.delivery_id);
        self.unwritten.insert(job.delivery_id);
        let decision = self.decide(job, outcome);
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

    /// The outcome of `id` is written. For [`RECENT`] a page or a hand-over naming it is
    /// taken for one read before the write, not resent. Its key (if it was a head) reads
    /// its next head.
    pub fn written(&mut self, id: Uuid) {
        self.unwritten.remove(&id);
        self.keys.written(id);
        self.forget_old();
        if self.recent_ids.insert(id) {
            self.recent.push_back((self.clock.now(), id));
        }
    }

    fn decide(&mut self, job: &DeliveryJob, outcome: &AttemptOutcome) -> Decision {
        let now = self.clock.wall();
        let (status_code, class) = match outcome {
            AttemptOutcome::Success { .. } => return self.succeeded(),
            AttemptOutcome::HttpStatus { status, .. } => (Some(*status), ErrorClass::HttpStatus),
            AttemptOutcome::Failed { class } => (None, *class),
        };
        let health = self.failed(now);
        if status_code == Some(410) {
            return Decision {
                status: DeliveryStatus::Paused,
                next_attempt_at: None,
                disable: Some(format!(
                    "the receiver answered 410 Gone at {}",
                    now.to_rfc3339()
                )),
                health,
            };
        }
        let retry_after = match outcome {
            AttemptOutcome::HttpStatus {
                status,
                retry_after,
            } if honours_retry_after(*status) => *retry_after,
            _ => None,
        };
        if status_code.is_some_and(is_throttling_status) {
            self.consecutive_throttles += 1;
            let pause = throttle_backoff(
                self.consecutive_throttles,
                retry_after,
                self.cfg.retry_after_cap,
            );
            self.throttled_until = Some(self.clock.now() + pause);
        }
        let retry_in = self.retry_in(job, class, retry_after);
        let failing_since = self.health.failing_since.unwrap_or(now);
        let disable = should_disable(
            Some(failing_since.timestamp_millis()),
            now.timestamp_millis(),
            self.cfg.disable_after,
        )
        .then(|| {
            format!(
                "every delivery has failed since {}",
                failing_since.to_rfc3339()
            )
        });
        let (status, next) = match (&disable, retry_in) {
            (Some(_), _) => (DeliveryStatus::Paused, None),
            (None, Some(d)) => (
                DeliveryStatus::Retrying,
                Some(now + chrono::Duration::from_std(d).unwrap_or_default()),
            ),
            (None, None) => (DeliveryStatus::Failed, None),
        };
        Decision {
            status,
            next_attempt_at: next,
            disable,
            health,
        }
    }

    fn retry_in(
        &self,
        job: &DeliveryJob,
        class: ErrorClass,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if class == ErrorClass::BlockedTarget {
            return None;
        }
        let made = u32::try_from(job.attempts_made + 1 - job.attempt_base).unwrap_or(u32::MAX);
        let jitter = job_jitter(job);
        next_retry_delay(
            self.schedule.as_ref().unwrap_or(&self.cfg.retry_schedule),
            made,
            jitter,
            FailureHint { retry_after },
            self.cfg.retry_after_cap,
        )
    }

    fn succeeded(&mut self) -> Decision {
        self.consecutive_throttles = 0;
        let healthy = Health::default();
        let changed = (self.health != healthy).then_some(healthy);
        self.health = healthy;
        Decision {
            status: DeliveryStatus::Succeeded,
            next_attempt_at: None,
            disable: None,
            health: changed,
        }
    }

    fn failed(&mut self, now: DateTime<Utc>) -> Option<Health> {
        self.health.failing_since.get_or_insert(now);
        self.health.consecutive_failures = self.health.consecutive_failures.saturating_add(1);
        Some(self.health)
    }

    /// Drops everything memory holds: Postgres has it (due or held).
    fn release_memory(&mut self) {
        self.ready.clear();
        self.to_load.clear();
        self.scheduled.clear();
        self.attempts_made.clear();
        self.known.clear();
        self.backlog = None;
        self.keys.clear();
    }
}

/// A jitter sample in `[-1, 1]` that differs between deliveries and attempts but needs no
/// random source (so the core stays deterministic).
fn job_jitter(job: &DeliveryJob) -> f64 {
    let b = job.delivery_id.as_bytes();
    let seed = u32::from_be_bytes([b[12], b[13], b[14], b[15]])
        .wrapping_mul(2_654_435_761)
        .wrapping_add(
            u32::try_from(job.attempts_made)
                .unwrap_or(0)
                .wrapping_mul(40_503),
        );
    f64::from(seed) / f64::from(u32::MAX) * 2.0 - 1.0
}

fn limiter<C: Clock>(rate: Option<i32>, clock: &C) -> Option<Limiter<C>> {
    let rate = NonZeroU32::new(u32::try_from(rate?).ok()?)?;
    Some(RateLimiter::direct_with_clock(
        Quota::per_second(rate),
        GovernorClock(clock.clone()),
    ))
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
