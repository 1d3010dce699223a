//! Operational events: Courier reports on itself as webhooks, through its own engine, to the
//! subscriptions of the reserved `courier-ops` application (and so to
//! `COURIER_OPS_WEBHOOK_URL`, which is kept as one of them). Each event is an ordinary
//! message of that application — committed, fanned out by event type, signed, retried,
//! logged — so an operator subscribes to `subscription.*` or `delivery.exhausted` like to
//! any event.
//!
//! Payloads carry ids, names (the description), the target's host and counts; never a
//! secret, a header or the full target URL (which may hold a token). Nothing about the
//! `courier-ops` application's own subscriptions is reported (a failing ops receiver must
//! not feed itself).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::applications::OPS_APP_ID;
use crate::db::messages::{IngestItem, NewMessage, Target};
use crate::db::subscriptions::SubscriptionRow;
use crate::domain::EventType;

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum OpsEvent {
    /// `COURIER_FAILING_AFTER` attempts in a row failed (once per failing streak).
    Failing {
        consecutive_failures: i32,
        since: Option<DateTime<Utc>>,
    },
    /// The first success after a reported failing streak.
    Recovered {
        after_failures: i32,
    },
    /// Disabled (410 Gone, or failing for `COURIER_DISABLE_AFTER`), with the reason.
    Disabled {
        reason: String,
    },
    /// A delivery spent its retries.
    Exhausted {
        delivery_id: Uuid,
        message_id: Uuid,
        event_type: String,
        attempts: i32,
    },
    Created,
    Updated,
    Deleted,
}

impl OpsEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Failing { .. } => "subscription.failing",
            Self::Recovered { .. } => "subscription.recovered",
            Self::Disabled { .. } => "subscription.disabled",
            Self::Exhausted { .. } => "delivery.exhausted",
            Self::Created => "subscription.created",
            Self::Updated => "subscription.updated",
            Self::Deleted => "subscription.deleted",
        }
    }

    fn details(&self) -> Value {
        match self {
            Self::Failing {
                consecutive_failures,
                since,
            } => {
                json!({"consecutive_failures": consecutive_failures, "failing_since": since})
            }
            Self::Recovered { after_failures } => json!({"after_failures": after_failures}),
            Self::Disabled { reason } => json!({"reason": reason}),
            Self::Exhausted {
                delivery_id,
                message_id,
                event_type,
                attempts,
            } => json!({
                "delivery_id": delivery_id, "message_id": message_id,
                "delivery_event_type": event_type, "attempts": attempts,
            }),
            Self::Created | Self::Updated | Self::Deleted => json!({}),
        }
    }
}

/// The subscription an event is about, as far as an event may tell.
#[derive(Debug, Clone)]
pub struct About {
    pub subscription_id: Uuid,
    pub application_id: Uuid,
    pub description: Option<String>,
    pub target_host: Option<String>,
}

impl About {
    pub fn of(row: &SubscriptionRow) -> Self {
        Self {
            subscription_id: row.id,
            application_id: row.application_id,
            description: row.description.clone(),
            target_host: url::Url::parse(&row.target_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned)),
        }
    }
}

/// The message of an event for the `courier-ops` subscriptions that want it (`targets`);
/// `None` for events about `courier-ops` itself.
pub fn message(
    about: &About,
    event: &OpsEvent,
    targets: &[Arc<SubscriptionRow>],
) -> Option<IngestItem> {
    if about.application_id == OPS_APP_ID {
        return None;
    }
    let event_type = EventType::parse(event.event_type()).ok()?;
    let mut payload = json!({
        "type": event.event_type(),
        "subscription_id": about.subscription_id,
        "application_id": about.application_id,
        "description": about.description,
        "target_host": about.target_host,
        "at": Utc::now(),
    });
    if let (Some(p), Value::Object(extra)) = (payload.as_object_mut(), event.details()) {
        p.extend(extra);
    }
    Some(IngestItem {
        message: NewMessage {
            id: Uuid::now_v7(),
            application_id: OPS_APP_ID,
            event_type: Arc::from(event_type.as_str()),
            payload: Arc::from(payload.to_string()),
            subscription_id: None,
            ordering_key: None,
        },
        targets: targets
            .iter()
            .map(|s| Target {
                delivery_id: Uuid::now_v7(),
                subscription_id: s.id,
                wanted: true,
            })
            .collect(),
        idempotency: None,
    })
}

/// Whether an outcome starts a reported failing streak (`after` failures in a row, the
/// configured threshold reached exactly once per streak) or ends one.
pub fn streak_event(before: i32, after: i32, threshold: i32) -> Option<OpsEvent> {
    let threshold = threshold.max(1);
    if after == threshold && before < threshold {
        return Some(OpsEvent::Failing {
            consecutive_failures: after,
            since: None,
        });
    }
    (after == 0 && before >= threshold).then_some(OpsEvent::Recovered {
        after_failures: before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_is_reported_once_when_it_reaches_the_threshold_and_once_when_it_ends() {
        assert_eq!(streak_event(3, 4, 5), None);
        assert!(matches!(
            streak_event(4, 5, 5),
            Some(OpsEvent::Failing {
                consecutive_failures: 5,
                ..
            })
        ));
        assert_eq!(
            streak_event(5, 6, 5),
            None,
            "not again while the streak lasts"
        );
        assert_eq!(
            streak_event(9, 0, 5),
            Some(OpsEvent::Recovered { after_failures: 9 })
        );
        assert_eq!(
            streak_event(2, 0, 5),
            None,
            "a short streak was never reported"
        );
    }
}
