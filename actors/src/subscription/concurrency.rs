//! Adaptive concurrency of one subscription (AIMD): how many attempts it may have in flight
//! right now, within `[1, max_in_flight]`. It halves when the receiver says it is overloaded
//! (a timeout, 429 or 503) — at most once per window, i.e. only for an attempt started after
//! the last cut, so a burst of timeouts from one batch counts once — and grows by
//! `1 / limit` on each fast success (about one more per round trip). A success slower than
//! half the timeout, or any other failure, leaves it as it is. Pure state: the core hands it
//! the times.
//!
//! Must never: go below 1 or above `max_in_flight`, or cut twice for one window.

use std::time::{Duration, Instant};

use uuid::Uuid;

use super::tables::{IdMap, Shrink};

/// What an outcome says about the receiver's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A 2xx: fast if within half the timeout.
    Success,
    /// A timeout, 429 or 503.
    Overloaded,
    /// Anything else (a 500, a refused connection): says nothing about load.
    Neutral,
}

#[derive(Debug)]
pub struct Adaptive {
    limit: f64,
    max: usize,
    /// Attempts sent so far, and the count at the last cut.
    sends: u64,
    cut_at: u64,
    /// In-flight attempts: when each started, and its send number.
    started: IdMap<(Instant, u64)>,
}

impl Adaptive {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            limit: max as f64,
            max,
            sends: 0,
            cut_at: 0,
            started: IdMap::default(),
        }
    }

    /// A new `max_in_flight`: the limit is kept within it (a raised maximum is grown into).
    pub fn set_max(&mut self, max: usize) {
        let max = max.max(1);
        // Unreduced (at the old maximum): it takes the new one at once.
        if max > self.max && self.limit >= self.max as f64 {
            self.limit = max as f64;
        }
        self.max = max;
        self.limit = self.limit.clamp(1.0, self.max as f64);
    }

    /// Attempts it may have in flight now.
    pub fn limit(&self) -> usize {
        (self.limit.floor() as usize).clamp(1, self.max)
    }

    /// Whether it is below its `max_in_flight`.
    pub fn is_reduced(&self) -> bool {
        self.limit() < self.max
    }

    /// Gives back the table's spare memory (an idle subscription).
    pub fn shrink(&mut self) {
        self.started.shrink();
    }

    #[cfg(test)]
    pub fn allocated(&self) -> usize {
        self.started.capacity()
    }

    pub fn sent(&mut self, id: Uuid, now: Instant) {
        self.sends += 1;
        self.started.insert(id, (now, self.sends));
    }

    /// An attempt that never started.
    pub fn unsent(&mut self, id: Uuid) {
        self.started.remove(&id);
    }

    /// An attempt finished; `timeout` is the attempt's. Returns whether the limit (as a
    /// whole number) changed.
    pub fn finished(&mut self, id: Uuid, signal: Signal, now: Instant, timeout: Duration) -> bool {
        let Some((at, seq)) = self.started.remove(&id) else {
            return false;
        };
        let before = self.limit();
        match signal {
            Signal::Overloaded if seq > self.cut_at => {
                self.limit = (self.limit / 2.0).max(1.0);
                self.cut_at = self.sends;
            }
            Signal::Success if now.saturating_duration_since(at) <= timeout / 2 => {
                self.limit = (self.limit + 1.0 / self.limit).min(self.max as f64);
            }
            _ => {}
        }
        self.limit() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    fn send(a: &mut Adaptive, now: Instant) -> Uuid {
        let id = Uuid::new_v4();
        a.sent(id, now);
        id
    }

    #[test]
    fn a_batch_of_timeouts_halves_once_and_later_ones_halve_again() {
        let t0 = Instant::now();
        let mut a = Adaptive::new(16);
        let batch: Vec<Uuid> = (0..16).map(|_| send(&mut a, t0)).collect();
        for id in &batch {
            a.finished(*id, Signal::Overloaded, t0 + T, T);
        }
        assert_eq!(a.limit(), 8, "one window, one cut");
        let next: Vec<Uuid> = (0..8).map(|_| send(&mut a, t0 + T)).collect();
        for id in &next {
            a.finished(*id, Signal::Overloaded, t0 + 2 * T, T);
        }
        assert_eq!(a.limit(), 4);
        for _ in 0..10 {
            let id = send(&mut a, t0);
            a.finished(id, Signal::Overloaded, t0 + T, T);
        }
        assert_eq!(a.limit(), 1, "never below one");
    }

    #[test]
    fn fast_successes_grow_it_back_to_the_maximum_and_no_further() {
        let t0 = Instant::now();
        let mut a = Adaptive::new(8);
        let id = send(&mut a, t0);
        a.finished(id, Signal::Overloaded, t0, T);
        assert_eq!(a.limit(), 4);
        for _ in 0..200 {
            let id = send(&mut a, t0);
            a.finished(id, Signal::Success, t0 + Duration::from_millis(20), T);
        }
        assert_eq!(a.limit(), 8);
        assert!(!a.is_reduced());
    }

    #[test]
    fn slow_successes_and_other_failures_leave_it_alone() {
        let t0 = Instant::now();
        let mut a = Adaptive::new(8);
        let id = send(&mut a, t0);
        a.finished(id, Signal::Overloaded, t0, T);
        for _ in 0..50 {
            let id = send(&mut a, t0);
            a.finished(id, Signal::Success, t0 + Duration::from_secs(4), T);
            let id = send(&mut a, t0);
            a.finished(id, Signal::Neutral, t0, T);
        }
        assert_eq!(a.limit(), 4);
    }

    #[test]
    fn a_lowered_maximum_caps_it_and_a_raised_one_is_taken_when_unreduced() {
        let mut a = Adaptive::new(16);
        a.set_max(4);
        assert_eq!(a.limit(), 4);
        a.set_max(10);
        assert_eq!(a.limit(), 10);
        let id = send(&mut a, Instant::now());
        a.finished(id, Signal::Overloaded, Instant::now(), T);
        a.set_max(20);
        assert_eq!(
            a.limit(),
            5,
            "a reduced limit grows into the new maximum by itself"
        );
    }
}
