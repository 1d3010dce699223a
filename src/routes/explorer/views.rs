//! How the explorer's rows look in answers: compact deliveries and messages, subscription
//! health with its rates worked out, the attempt series with empty buckets filled in, and
//! the answers of the bulk actions.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use courier_actors::db::explorer::{
    DeliveryListRow, MessageListRow, StatsBucketRow, SubscriptionStatsRow,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A delivery in a list: where it stands, without payload or attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliverySummary {
    pub id: Uuid,
    pub message_id: Uuid,
    pub subscription_id: Uuid,
    /// The subscription's target; null when the subscription row is gone.
    pub target_url: Option<String>,
    pub event_type: String,
    /// `pending`, `delivering`, `retrying`, `succeeded`, `failed`, `filtered` or `paused`.
    pub status: String,
    /// Attempts made so far.
    pub attempt_count: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt; null when it got no answer.
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Its ordering key, when it has one.
    pub ordering_key: Option<String>,
}

impl From<DeliveryListRow> for DeliverySummary {
    fn from(r: DeliveryListRow) -> Self {
        Self {
            id: r.id,
            message_id: r.message_id,
            subscription_id: r.subscription_id,
            target_url: r.target_url,
            event_type: r.event_type,
            status: r.status,
            attempt_count: r.attempt_count,
            next_attempt_at: r.next_attempt_at,
            last_attempt_at: r.last_attempt_at,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            created_at: r.created_at,
            ordering_key: r.ordering_key,
        }
    }
}

/// Deliveries counted by where they stand.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryCounts {
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Pending, delivering, retrying or held by a paused subscription.
    pub unfinished: i64,
    /// Not wanted by the subscription's event filter; never sent.
    pub filtered: i64,
}

/// A message in a list, with its deliveries counted.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageSummary {
    pub id: Uuid,
    pub event_type: String,
    /// The subscription of the per-subscription ingest forms; null for fan-out.
    pub subscription_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub deliveries: DeliveryCounts,
}

impl From<MessageListRow> for MessageSummary {
    fn from(r: MessageListRow) -> Self {
        Self {
            id: r.id,
            event_type: r.event_type,
            subscription_id: r.subscription_id,
            created_at: r.created_at,
            deliveries: DeliveryCounts {
                total: r.deliveries,
                succeeded: r.succeeded,
                failed: r.failed,
                unfinished: r.unfinished,
                filtered: r.filtered,
            },
        }
    }
}

/// Attempt latency over a range, in milliseconds; null without attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct Latency {
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// One subscription's health over a range. Rates are fractions from 0 to 1, null when there
/// is nothing to divide.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionHealth {
    pub subscription_id: Uuid,
    pub target_url: String,
    /// `active`, `paused` or `disabled`.
    pub status: String,
    pub description: Option<String>,
    /// Deliveries created in the range, by where they stand now.
    pub deliveries: DeliveryCounts,
    /// Attempts made in the range (a delivery retried five times counts six).
    pub attempts: i64,
    pub attempts_succeeded: i64,
    /// First attempts made in the range (attempts that were not retries).
    pub first_attempts: i64,
    pub first_attempts_succeeded: i64,
    /// Of the first attempts made in the range, the share that succeeded.
    pub first_attempt_success_rate: Option<f64>,
    /// Of the deliveries created in the range that have finished (succeeded or failed), the
    /// share that succeeded, retries included.
    pub eventual_success_rate: Option<f64>,
    /// Of all attempts in the range, the share that succeeded.
    pub attempt_success_rate: Option<f64>,
    pub latency: Latency,
    /// The last attempt in the range.
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_attempt_succeeded: Option<bool>,
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl From<SubscriptionStatsRow> for SubscriptionHealth {
    fn from(r: SubscriptionStatsRow) -> Self {
        Self {
            subscription_id: r.subscription_id,
            target_url: r.target_url,
            status: r.status,
            description: r.description,
            first_attempt_success_rate: ratio(r.first_attempts_succeeded, r.first_attempts),
            eventual_success_rate: ratio(r.succeeded, r.succeeded + r.failed),
            attempt_success_rate: ratio(r.attempts_succeeded, r.attempts),
            deliveries: DeliveryCounts {
                total: r.deliveries,
                succeeded: r.succeeded,
                failed: r.failed,
                unfinished: r.unfinished,
                filtered: r.filtered,
            },
            attempts: r.attempts,
            attempts_succeeded: r.attempts_succeeded,
            first_attempts: r.first_attempts,
            first_attempts_succeeded: r.first_attempts_succeeded,
            latency: Latency {
                p50_ms: r.p50_ms,
                p95_ms: r.p95_ms,
            },
            last_attempt_at: r.last_attempt_at,
            last_status_code: r.last_status_code,
            last_attempt_succeeded: r.last_succeeded,
        }
    }
}

/// Every live subscription's health over one range.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionsHealth {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub subscriptions: Vec<SubscriptionHealth>,
}

/// A subscription's attempts in one bucket of time.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBucket {
    pub start: DateTime<Utc>,
    pub succeeded: i64,
    pub failed: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// One subscription's health and its attempts over time.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionStats {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub health: SubscriptionHealth,
    /// The width of each bucket of `series`.
    pub bucket_seconds: i64,
    /// Every bucket from `since` to `until`, oldest first (empty ones as zeros).
    pub series: Vec<StatsBucket>,
}

/// Every bucket start from the one holding `since` up to `until`, with the rows that exist
/// and zeros for the rest.
pub fn series_with_gaps(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    bucket_secs: i64,
    rows: Vec<StatsBucketRow>,
) -> Vec<StatsBucket> {
    let step = bucket_secs.max(1);
    let mut found: HashMap<i64, StatsBucketRow> =
        rows.into_iter().map(|r| (r.start.timestamp(), r)).collect();
    let first = since.timestamp().div_euclid(step) * step;
    let mut out = Vec::new();
    let mut t = first;
    while t < until.timestamp() || (t == first && out.is_empty()) {
        let start = Utc.timestamp_opt(t, 0).single().unwrap_or(since);
        out.push(match found.remove(&t) {
            Some(r) => StatsBucket {
                start,
                succeeded: r.succeeded,
                failed: r.failed,
                p50_ms: r.p50_ms,
                p95_ms: r.p95_ms,
            },
            None => StatsBucket {
                start,
                succeeded: 0,
                failed: 0,
                p50_ms: None,
                p95_ms: None,
            },
        });
        t += step;
    }
    out
}

/// The answer of `POST /deliveries/retry`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"matched": 42, "requeued": 42, "truncated": false, "cap": 10000}))]
pub struct BulkRetried {
    /// Deliveries that matched (counted up to `cap`).
    pub matched: i64,
    /// How many of them this call re-queued.
    pub requeued: usize,
    /// More than `cap` matched: call again for the rest.
    pub truncated: bool,
    /// The most one call acts on.
    pub cap: i64,
}

/// The answer of `POST /deliveries/cancel`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"matched": 7, "cancelled": 7, "truncated": false, "cap": 10000}))]
pub struct BulkCancelled {
    /// Unfinished deliveries that matched (counted up to `cap`).
    pub matched: i64,
    /// How many of them this call cancelled.
    pub cancelled: usize,
    /// More than `cap` matched: call again for the rest.
    pub truncated: bool,
    /// The most one call acts on.
    pub cap: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn empty_buckets_are_filled_with_zeros() {
        let since = Utc.timestamp_opt(1_000_050, 0).single().expect("time");
        let until = since + Duration::minutes(3);
        let row = StatsBucketRow {
            start: Utc.timestamp_opt(1_000_080, 0).single().expect("time"),
            succeeded: 2,
            failed: 1,
            p50_ms: Some(5.0),
            p95_ms: Some(9.0),
        };
        let s = series_with_gaps(since, until, 60, vec![row]);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].start.timestamp(), 1_000_020 / 60 * 60);
        assert_eq!((s[1].succeeded, s[1].failed), (2, 1));
        assert_eq!(s[2].succeeded + s[2].failed, 0);
    }

    #[test]
    fn rates_are_null_when_nothing_happened() {
        assert_eq!(ratio(0, 0), None);
        assert_eq!(ratio(1, 4), Some(0.25));
    }
}
