//! The explorer's SQL: every delivery and every message across subscriptions (newest first,
//! compact rows without payloads or attempts), per-subscription health over a time range,
//! and the bulk actions on a filtered set (retry, cancel).
//!
//! Ids are UUIDv7, so time bounds are primary-key bounds. Statuses reach the statements as
//! bound values from [`DeliveryStatus`], never spelled in SQL. A bulk action never touches
//! more than the caller's cap in one statement, and never touches a delivery of a deleted
//! subscription (nothing would deliver it).

mod stats;

pub use stats::{StatsBucketRow, SubscriptionStatsRow, subscription_series, subscription_stats};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::DeliveryStatus::{
    self, Delivering, Failed, Filtered, Paused, Pending, Retrying, Succeeded,
};

/// Not finished yet: waiting, in flight, waiting for a retry or held.
pub const UNFINISHED: [DeliveryStatus; 4] = [Pending, Delivering, Retrying, Paused];
/// Statuses from which an operator may cancel a delivery.
pub const CANCELLABLE: [DeliveryStatus; 3] = [Pending, Retrying, Paused];
/// Statuses from which an operator may retry a delivery (not filtered, not in flight).
pub const RETRYABLE: [DeliveryStatus; 5] = [Pending, Retrying, Paused, Succeeded, Failed];

/// The statuses' names, for binding as a `text[]`.
pub fn names(set: &[DeliveryStatus]) -> Vec<&'static str> {
    set.iter().map(|s| s.as_str()).collect()
}

/// Which deliveries a list or a bulk action covers. Every field narrows; `None` is "any".
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub statuses: Option<Vec<DeliveryStatus>>,
    /// An exact event type.
    pub event_type: Option<String>,
    /// Event types starting with this (the `order.` of the pattern `order.*`).
    pub event_prefix: Option<String>,
    pub subscription_id: Option<Uuid>,
    /// Inclusive range of the delivery's last HTTP status.
    pub http_status: Option<(i32, i32)>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    pub id_fragment: Option<IdFragment>,
    /// Only this application's (`None`: every application's).
    pub application_id: Option<Uuid>,
}

/// Part of an id as a person copies it: ids starting with it (a primary-key range) or
/// ending with it (the random tail the dashboard shows).
#[derive(Debug, Clone)]
pub struct IdFragment {
    pub low: Uuid,
    pub high: Uuid,
    /// Lowercase hex digits, no dashes.
    pub tail: String,
}

impl IdFragment {
    /// `hex` is lowercase hex digits without dashes, 1 to 32 of them.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.is_empty() || hex.len() > 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let pad = |c: char| {
            let mut s = hex.to_ascii_lowercase();
            s.extend(std::iter::repeat_n(c, 32 - hex.len()));
            s
        };
        let low = Uuid::parse_str(&pad('0')).ok()?;
        let high = Uuid::parse_str(&pad('f')).ok()?;
        Some(Self {
            low,
            high,
            tail: hex.to_ascii_lowercase(),
        })
    }
}

/// The filter's SQL over `deliveries d`, binding $1 to $12 (see `bind_filter!`).
macro_rules! delivery_where {
    () => {
        "($1::text[] IS NULL OR d.status = ANY($1)) \
         AND ($2::text IS NULL OR d.event_type = $2) \
         AND ($3::text IS NULL OR starts_with(d.event_type, $3)) \
         AND ($4::uuid IS NULL OR d.subscription_id = $4) \
         AND ($5::int IS NULL OR d.last_status_code BETWEEN $5 AND $6::int) \
         AND ($7::uuid IS NULL OR d.id >= $7) AND ($8::uuid IS NULL OR d.id < $8) \
         AND ($9::uuid IS NULL OR d.id BETWEEN $9 AND $10::uuid \
              OR right(replace(d.id::text, '-', ''), length($11::text)) = $11) \
         AND ($12::uuid IS NULL OR d.application_id = $12)"
    };
}

macro_rules! bind_filter {
    ($query:expr, $f:expr) => {{
        let f: &DeliveryFilter = $f;
        $query
            .bind(
                f.statuses
                    .as_ref()
                    .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>()),
            )
            .bind(f.event_type.clone())
            .bind(f.event_prefix.clone())
            .bind(f.subscription_id)
            .bind(f.http_status.map(|r| r.0))
            .bind(f.http_status.map(|r| r.1))
            .bind(f.since.map(crate::domain::uuid_floor))
            .bind(f.until.map(crate::domain::uuid_floor))
            .bind(f.id_fragment.as_ref().map(|i| i.low))
            .bind(f.id_fragment.as_ref().map(|i| i.high))
            .bind(f.id_fragment.as_ref().map(|i| i.tail.clone()))
            .bind(f.application_id)
    }};
}

/// One delivery in a list: no payload, no attempts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryListRow {
    pub id: Uuid,
    pub message_id: Uuid,
    pub subscription_id: Uuid,
    /// Null when the subscription row is gone.
    pub target_url: Option<String>,
    pub event_type: String,
    pub status: String,
    pub attempt_count: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub ordering_key: Option<String>,
}

/// A page of deliveries, newest first, with ids below `before`.
pub async fn list_deliveries(
    pool: &PgPool,
    filter: &DeliveryFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeliveryListRow>, sqlx::Error> {
    let q = sqlx::query_as(concat!(
        "SELECT d.id, d.message_id, d.subscription_id, s.target_url, d.event_type, d.status, d.attempt_count, \
         d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, d.ordering_key \
         FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id WHERE ",
        delivery_where!(),
        " AND ($13::uuid IS NULL OR d.id < $13) ORDER BY d.id DESC LIMIT $14"
    ));
    bind_filter!(q, filter)
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Which messages a list covers.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub event_type: Option<String>,
    pub event_prefix: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub id_fragment: Option<IdFragment>,
    /// Only this application's (`None`: every application's).
    pub application_id: Option<Uuid>,
}

/// One message in a list, with its deliveries counted by where they stand.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageListRow {
    pub id: Uuid,
    pub event_type: String,
    pub subscription_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub deliveries: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Pending, delivering, retrying or held.
    pub unfinished: i64,
    pub filtered: i64,
}

/// A page of messages, newest first, with ids below `before`.
pub async fn list_messages(
    pool: &PgPool,
    filter: &MessageFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<MessageListRow>, sqlx::Error> {
    let frag = filter.id_fragment.as_ref();
    sqlx::query_as(
        "SELECT m.id, m.event_type, m.subscription_id, m.created_at, \
         count(d.id) AS deliveries, count(d.id) FILTER (WHERE d.status = $10) AS succeeded, \
         count(d.id) FILTER (WHERE d.status = $11) AS failed, \
         count(d.id) FILTER (WHERE d.status = ANY($12)) AS unfinished, \
         count(d.id) FILTER (WHERE d.status = $13) AS filtered \
         FROM (SELECT * FROM messages m WHERE ($1::text IS NULL OR m.event_type = $1) \
           AND ($2::text IS NULL OR starts_with(m.event_type, $2)) \
           AND ($3::uuid IS NULL OR m.id >= $3) AND ($4::uuid IS NULL OR m.id < $4) \
           AND ($5::uuid IS NULL OR m.id BETWEEN $5 AND $6::uuid \
                OR right(replace(m.id::text, '-', ''), length($7::text)) = $7) \
           AND ($8::uuid IS NULL OR m.id < $8) AND ($14::uuid IS NULL OR m.application_id = $14) \
           ORDER BY m.id DESC LIMIT $9) m \
         LEFT JOIN deliveries d ON d.message_id = m.id \
         GROUP BY m.id, m.event_type, m.subscription_id, m.created_at ORDER BY m.id DESC",
    )
    .bind(&filter.event_type)
    .bind(&filter.event_prefix)
    .bind(filter.since.map(crate::domain::uuid_floor))
    .bind(filter.until.map(crate::domain::uuid_floor))
    .bind(frag.map(|i| i.low))
    .bind(frag.map(|i| i.high))
    .bind(frag.map(|i| i.tail.clone()))
    .bind(before)
    .bind(limit)
    .bind(Succeeded.as_str())
    .bind(Failed.as_str())
    .bind(names(&UNFINISHED))
    .bind(Filtered.as_str())
    .bind(filter.application_id)
    .fetch_all(pool)
    .await
}

/// Ids of up to `cap` matching deliveries in one of `statuses`, oldest first: what a bulk
/// retry hands to the engine (which re-queues them under the change lock).
pub async fn matching_ids(
    pool: &PgPool,
    filter: &DeliveryFilter,
    statuses: &[DeliveryStatus],
    cap: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let q = sqlx::query_scalar(concat!(
        "SELECT d.id FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id \
         WHERE s.deleted_at IS NULL AND d.status = ANY($14) AND ",
        delivery_where!(),
        " ORDER BY d.id LIMIT $13"
    ));
    bind_filter!(q, filter)
        .bind(cap)
        .bind(names(statuses))
        .fetch_all(pool)
        .await
}

/// How many deliveries in one of `statuses` match, counting no further than `cap + 1`.
pub async fn count_matching(
    pool: &PgPool,
    filter: &DeliveryFilter,
    statuses: &[DeliveryStatus],
    cap: i64,
) -> Result<i64, sqlx::Error> {
    let q = sqlx::query_scalar(concat!(
        "SELECT count(*) FROM (SELECT 1 FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id \
         WHERE s.deleted_at IS NULL AND d.status = ANY($14) AND ",
        delivery_where!(),
        " LIMIT $13::bigint + 1) x"
    ));
    bind_filter!(q, filter)
        .bind(cap)
        .bind(names(statuses))
        .fetch_one(pool)
        .await
}

/// Marks up to `cap` matching [`CANCELLABLE`] deliveries as failed with `last_error =
/// 'cancelled by operator'`; returns their ids. A late outcome of an attempt already in
/// flight cannot undo this (outcomes only change unfinished rows).
pub async fn bulk_cancel(
    pool: &PgPool,
    filter: &DeliveryFilter,
    cap: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let q = sqlx::query_scalar(concat!(
        "WITH picked AS (SELECT d.id FROM deliveries d WHERE d.status = ANY($14) AND ",
        delivery_where!(),
        " ORDER BY d.id LIMIT $13 FOR UPDATE OF d SKIP LOCKED) \
         UPDATE deliveries d SET status = $15, last_error = 'cancelled by operator', next_attempt_at = NULL, \
         updated_at = now() FROM picked WHERE d.id = picked.id \
         AND d.status = ANY($14) RETURNING d.id"
    ));
    bind_filter!(q, filter)
        .bind(cap)
        .bind(names(&CANCELLABLE))
        .bind(Failed.as_str())
        .fetch_all(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::IdFragment;

    #[test]
    fn a_fragment_covers_every_id_starting_with_it() {
        let f = IdFragment::from_hex("0193ab").expect("valid");
        assert_eq!(f.low.to_string(), "0193ab00-0000-0000-0000-000000000000");
        assert_eq!(f.high.to_string(), "0193abff-ffff-ffff-ffff-ffffffffffff");
        assert_eq!(f.tail, "0193ab");
    }

    #[test]
    fn a_whole_id_is_its_own_range() {
        let f = IdFragment::from_hex("0193AB6E7D1C7B3E9F00000000000001").expect("valid");
        assert_eq!(f.low, f.high);
    }

    #[test]
    fn non_hex_and_overlong_fragments_are_refused() {
        assert!(IdFragment::from_hex("").is_none());
        assert!(IdFragment::from_hex("xyz").is_none());
        assert!(IdFragment::from_hex(&"a".repeat(33)).is_none());
    }
}
