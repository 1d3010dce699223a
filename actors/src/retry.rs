//! The retry policy as pure functions: when the next attempt of a delivery is due, how long a
//! throttled subscription waits, and when a failing subscription is disabled. No clocks, no
//! randomness inside: callers pass the jitter sample and the times, so tests are exact.

use std::time::Duration;

use crate::domain::Invalid;
use crate::units::parse_duration;

/// Delays after the 1st, 2nd, … failed attempt. `n` delays mean `n + 1` attempts in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    /// `10s,30s,1m,5m,15m`: six attempts, as the original service promised.
    fn default() -> Self {
        Self(
            [10, 30, 60, 300, 900]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        )
    }
}

impl RetrySchedule {
    pub const MAX_STEPS: usize = 50;

    /// Parses a comma-separated list of durations, e.g. `10s,30s,1m` or `50ms,100ms`.
    /// An empty string means no retries at all (one attempt).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.trim().is_empty() {
            return Ok(Self(Vec::new()));
        }
        let steps = raw
            .split(',')
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()?;
        if steps.len() > Self::MAX_STEPS {
            return Err(Invalid(format!(
                "at most {} retry steps are allowed",
                Self::MAX_STEPS
            )));
        }
        Ok(Self(steps))
    }

    pub fn from_delays(delays: Vec<Duration>) -> Self {
        Self(delays)
    }

    /// Attempts in all: the first plus one per step.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.0.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    pub fn steps(&self) -> &[Duration] {
        &self.0
    }
}

/// Jitter applied to every scheduled delay: ±10 %.
pub const JITTER_FRACTION: f64 = 0.10;

/// What the policy needs to know about the attempt that just failed.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailureHint {
    /// `Retry-After` sent with a 429 or 503 (ignored for other statuses by the caller).
    pub retry_after: Option<Duration>,
}

/// The delay before the next attempt after `attempts_made` attempts have failed, or `None`
/// when the budget is spent. `jitter` is a sample in `[-1.0, 1.0]`; `retry_after_cap` bounds
/// how far a `Retry-After` may push the retry. `Retry-After` only ever delays.
pub fn next_retry_delay(
    schedule: &RetrySchedule,
    attempts_made: u32,
    jitter: f64,
    hint: FailureHint,
    retry_after_cap: Duration,
) -> Option<Duration> {
    let index = usize::try_from(attempts_made.checked_sub(1)?).ok()?;
    let base = *schedule.0.get(index)?;
    let factor = 1.0 + JITTER_FRACTION * jitter.clamp(-1.0, 1.0);
    let jittered = base.mul_f64(factor);
    Some(match hint.retry_after {
        Some(ra) => jittered.max(ra.min(retry_after_cap)),
        None => jittered,
    })
}

/// How long a whole subscription holds off after `consecutive` throttling answers
/// (429, 502, 504) in a row: 1 s doubling to a minute, or the receiver's `Retry-After`
/// when that is longer (capped).
pub fn throttle_backoff(
    consecutive: u32,
    retry_after: Option<Duration>,
    cap: Duration,
) -> Duration {
    let exp = consecutive.saturating_sub(1).min(6);
    let backoff = Duration::from_secs(1u64 << exp).min(Duration::from_secs(60));
    match retry_after {
        Some(ra) => backoff.max(ra.min(cap)),
        None => backoff,
    }
}

/// Whether an HTTP status means "slow down" for the whole subscription.
pub fn is_throttling_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 504)
}

/// Whether `Retry-After` is honoured for this status.
pub fn honours_retry_after(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// Parses a `Retry-After` header given in seconds. (HTTP dates are rare from webhook
/// receivers and are ignored rather than misread.)
pub fn parse_retry_after(raw: &str) -> Option<Duration> {
    raw.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A subscription that has failed every delivery since `failing_since_ms` is disabled once
/// that span reaches `disable_after`. Times are milliseconds since the epoch.
pub fn should_disable(failing_since_ms: Option<i64>, now_ms: i64, disable_after: Duration) -> bool {
    let span = i64::try_from(disable_after.as_millis()).unwrap_or(i64::MAX);
    failing_since_ms.is_some_and(|since| now_ms.saturating_sub(since) >= span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CAP: Duration = Duration::from_secs(3600);

    #[test]
    fn default_schedule_gives_six_attempts() {
        let s = RetrySchedule::default();
        assert_eq!(s.max_attempts(), 6);
        assert_eq!(RetrySchedule::parse("10s,30s,1m,5m,15m"), Ok(s));
    }

    #[test]
    fn first_failure_waits_the_first_step_without_jitter() {
        let s = RetrySchedule::parse("10s,30s").expect("valid");
        let d = next_retry_delay(&s, 1, 0.0, FailureHint::default(), CAP);
        assert_eq!(d, Some(Duration::from_secs(10)));
        assert_eq!(
            next_retry_delay(&s, 2, 0.0, FailureHint::default(), CAP),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            next_retry_delay(&s, 3, 0.0, FailureHint::default(), CAP),
            None
        );
        assert_eq!(
            next_retry_delay(&s, 0, 0.0, FailureHint::default(), CAP),
            None
        );
    }

    #[test]
    fn retry_after_is_capped() {
        let s = RetrySchedule::parse("1s").expect("valid");
        let hint = FailureHint {
            retry_after: Some(Duration::from_secs(100_000)),
        };
        assert_eq!(next_retry_delay(&s, 1, 0.0, hint, CAP), Some(CAP));
    }

    #[test]
    fn throttle_backoff_doubles_up_to_a_minute() {
        assert_eq!(throttle_backoff(1, None, CAP), Duration::from_secs(1));
        assert_eq!(throttle_backoff(3, None, CAP), Duration::from_secs(4));
        assert_eq!(throttle_backoff(30, None, CAP), Duration::from_secs(60));
        assert_eq!(
            throttle_backoff(1, Some(Duration::from_secs(90)), CAP),
            Duration::from_secs(90)
        );
    }

    #[test]
    fn failing_subscription_is_disabled_after_the_span() {
        let span = Duration::from_secs(10);
        assert!(!should_disable(None, 100_000, span));
        assert!(!should_disable(Some(95_000), 100_000, span));
        assert!(should_disable(Some(90_000), 100_000, span));
    }

    proptest! {
        #[test]
        fn jitter_stays_within_ten_percent(step_ms in 1u64..10_000_000, jitter in -1.0f64..=1.0) {
            let s = RetrySchedule::from_delays(vec![Duration::from_millis(step_ms)]);
            let d = next_retry_delay(&s, 1, jitter, FailureHint::default(), CAP).expect("one step");
            let base = step_ms as f64;
            let got = d.as_secs_f64() * 1000.0;
            prop_assert!(got >= base * 0.9 - 0.001 && got <= base * 1.1 + 0.001);
        }

        #[test]
        fn retry_after_only_ever_delays(step_ms in 1u64..1_000_000, ra_ms in 0u64..10_000_000, jitter in -1.0f64..=1.0) {
            let s = RetrySchedule::from_delays(vec![Duration::from_millis(step_ms)]);
            let plain = next_retry_delay(&s, 1, jitter, FailureHint::default(), CAP).expect("step");
            let hint = FailureHint { retry_after: Some(Duration::from_millis(ra_ms)) };
            let with = next_retry_delay(&s, 1, jitter, hint, CAP).expect("step");
            prop_assert!(with >= plain);
            prop_assert!(with <= plain.max(CAP));
        }

        #[test]
        fn the_budget_is_exactly_one_attempt_per_step_plus_one(steps in 0usize..20) {
            let s = RetrySchedule::from_delays(vec![Duration::from_millis(5); steps]);
            let retries = (1..100u32)
                .take_while(|&n| next_retry_delay(&s, n, 0.5, FailureHint::default(), CAP).is_some())
                .count();
            prop_assert_eq!(retries, steps);
            prop_assert_eq!(s.max_attempts() as usize, steps + 1);
        }
    }
}
