//! Time, injectable: the subscription core decides with the clock it is given, so tests move
//! time by hand instead of sleeping. [`SystemClock`] is the real one; [`ManualClock`] starts
//! now and moves only when told. [`GovernorClock`] lets `governor`'s rate limiter read the
//! same clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

pub trait Clock: Clone + Send + Sync + 'static {
    /// Monotonic time, for timers and budgets.
    fn now(&self) -> Instant;
    /// Wall time, for what is recorded and shown.
    fn wall(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves it.
#[derive(Debug, Clone)]
pub struct ManualClock {
    instant: Instant,
    wall: DateTime<Utc>,
    elapsed_ns: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            instant: Instant::now(),
            wall: Utc::now(),
            elapsed_ns: Arc::default(),
        }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.elapsed_ns.fetch_add(ns, Ordering::SeqCst);
    }

    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_ns.load(Ordering::SeqCst))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.instant + self.elapsed()
    }
    fn wall(&self) -> DateTime<Utc> {
        self.wall + chrono::Duration::from_std(self.elapsed()).unwrap_or_default()
    }
}

/// Adapts a [`Clock`] for `governor`.
#[derive(Debug, Clone)]
pub struct GovernorClock<C>(pub C);

impl<C: Clock> governor::clock::Clock for GovernorClock<C> {
    type Instant = Instant;
    fn now(&self) -> Instant {
        self.0.now()
    }
}
