//! The shell's side of an outcome: what the core decided becomes a fenced record for the
//! persistence actor, an event on the live stream, metrics, and — when the core says so — a
//! disable through the lifecycle module.

use crate::capacity::Permit;
use actix::prelude::*;
use chrono::Utc;

use super::SubscriptionActor;
use super::core::Decision;
use crate::db::health::Health;
use crate::db::outcomes::{AttemptRecord, OutcomeRow, StatusUpdate};
use crate::delivery::AttemptOutcome;
use crate::domain::DeliveryStatus;
use crate::engine::AttemptEvent;
use crate::job::DeliveryJob;
use crate::messages::RecordOutcome;
use crate::ops::{self, OpsEvent};
use crate::retry_store::{Mark, ScheduledRetry};

impl SubscriptionActor {
    pub(super) fn record(
        &mut self,
        job: DeliveryJob,
        attempt: AttemptRecord,
        outcome: AttemptOutcome,
        permit: Option<Permit>,
        ctx: &mut Context<Self>,
    ) {
        let before = self.core.health();
        let job_limit_before = self.core.concurrency();
        let decision = self.core.outcome(&job, &outcome);
        record_metrics(&job, &attempt, &outcome, decision.status);
        self.report(&job, before, &decision);
        self.deps.publish(AttemptEvent {
            application_id: self.sub.application_id,
            subscription_id: self.sub.id,
            delivery_id: job.delivery_id,
            message_id: job.message_id,
            event_type: job.event_type.to_string(),
            delivery_status: decision.status.as_str(),
            attempt: attempt.clone(),
        });
        if let Some(c) = decision.concurrency {
            let direction = if usize::try_from(c).unwrap_or(0) < job_limit_before {
                "down"
            } else {
                "up"
            };
            metrics::counter!("courier_concurrency_changes_total", "direction" => direction)
                .increment(1);
        }
        let msg = self.outcome_message(&job, attempt, &decision, permit);
        let id = job.delivery_id;
        ctx.spawn(
            self.deps
                .persistence
                .send(msg)
                .into_actor(self)
                .map(move |_, act, ctx| {
                    act.core.written(id);
                    act.note_idle(ctx);
                }),
        );
        if let Some(reason) = decision.disable {
            self.disable(reason, ctx);
        }
    }

    /// The operational events an outcome causes: a failing streak reaching the threshold
    /// (once per streak) or ending, a delivery whose retries are spent.
    fn report(&self, job: &DeliveryJob, before: Health, decision: &Decision) {
        let after = decision.health.unwrap_or(before);
        let threshold = self.deps.config.failing_after;
        let about = || ops::About::of(&self.sub);
        if let Some(mut event) = ops::streak_event(
            before.consecutive_failures,
            after.consecutive_failures,
            threshold,
        ) {
            if let OpsEvent::Failing { since, .. } = &mut event {
                *since = after.failing_since;
            }
            self.deps.emit(about(), event);
        }
        if decision.status == DeliveryStatus::Failed {
            self.deps.emit(
                about(),
                OpsEvent::Exhausted {
                    delivery_id: job.delivery_id,
                    message_id: job.message_id,
                    event_type: job.event_type.to_string(),
                    attempts: job.attempts_made + 1,
                },
            );
        }
    }

    fn outcome_message(
        &self,
        job: &DeliveryJob,
        attempt: AttemptRecord,
        decision: &Decision,
        permit: Option<Permit>,
    ) -> RecordOutcome {
        let update = StatusUpdate {
            id: job.delivery_id,
            status: decision.status,
            attempt_count: job.attempts_made + 1,
            next_attempt_at: decision.next_attempt_at,
            last_attempt_at: attempt.attempted_at,
            last_status_code: attempt.status_code,
            last_error: attempt.error_message.clone(),
        };
        let schedule = decision.next_attempt_at.map(|at| ScheduledRetry {
            subscription_id: self.sub.id,
            delivery_id: job.delivery_id,
            due_ms: at.timestamp_millis(),
        });
        let mark = Mark {
            shard: self.shard,
            delivery_id: job.delivery_id,
            attempt: attempt.attempt_number,
            epoch: self.epoch,
        };
        RecordOutcome {
            subscription_id: self.sub.id,
            row: OutcomeRow {
                shard: i32::from(self.shard),
                epoch: self.epoch,
                attempt,
                update,
                health: decision.health.map(|h| (self.sub.id, h)),
                concurrency: decision.concurrency.map(|c| (self.sub.id, c)),
            },
            schedule,
            mark,
            permit,
        }
    }

    fn disable(&mut self, reason: String, ctx: &mut Context<Self>) {
        tracing::warn!(sub = %self.sub.id, %reason, "disabling subscription; its deliveries are held");
        let (deps, id) = (self.deps.clone(), self.sub.id);
        ctx.spawn(
            async move { deps.disable(id, &reason).await }
                .into_actor(self)
                .map(|_, _, _| ()),
        );
    }
}

/// Counters and histograms of one finished attempt.
fn record_metrics(
    job: &DeliveryJob,
    attempt: &AttemptRecord,
    outcome: &AttemptOutcome,
    status: DeliveryStatus,
) {
    let outcome = match outcome {
        AttemptOutcome::Success { .. } => "success",
        AttemptOutcome::HttpStatus { .. } => "http_status",
        AttemptOutcome::Failed { class } => class.as_str(),
    };
    metrics::counter!("courier_attempts_total", "outcome" => outcome).increment(1);
    metrics::histogram!("courier_attempt_duration_seconds")
        .record(f64::from(attempt.duration_ms) / 1000.0);
    if status.is_final() {
        metrics::counter!("courier_deliveries_finished_total", "status" => status.as_str())
            .increment(1);
    }
    if status == DeliveryStatus::Succeeded
        && let Some((secs, nanos)) = job.message_id.get_timestamp().map(|t| t.to_unix())
    {
        let accepted_ms = secs as f64 * 1000.0 + f64::from(nanos) / 1e6;
        let latency = (Utc::now().timestamp_millis() as f64 - accepted_ms).max(0.0) / 1000.0;
        metrics::histogram!("courier_delivery_latency_seconds").record(latency);
    }
}
