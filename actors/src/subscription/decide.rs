//! What an outcome means for its delivery and its subscription: succeeded, retry when (its
//! own schedule or the server's, `Retry-After`, jitter), throttle, disable (410 Gone or a
//! failing streak past `disable_after`), and the streak itself. Part of [`super::Core`].
//!
//! Must never: retry a blocked target, or let `Retry-After` bring a retry earlier.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Core, Decision};
use crate::clock::Clock;
use crate::db::health::Health;
use crate::delivery::AttemptOutcome;
use crate::domain::{DeliveryStatus, ErrorClass};
use crate::job::DeliveryJob;
use crate::retry::{
    FailureHint, honours_retry_after, is_throttling_status, next_retry_delay, should_disable,
    throttle_backoff,
};

impl<C: Clock> Core<C> {
    pub(super) fn decide(&mut self, job: &DeliveryJob, outcome: &AttemptOutcome) -> Decision {
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
                concurrency: None,
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
            concurrency: None,
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
            self.schedule.as_deref().unwrap_or(&self.cfg.retry_schedule),
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
            concurrency: None,
        }
    }

    fn failed(&mut self, now: DateTime<Utc>) -> Option<Health> {
        self.health.failing_since.get_or_insert(now);
        self.health.consecutive_failures = self.health.consecutive_failures.saturating_add(1);
        Some(self.health)
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
