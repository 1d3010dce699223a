//! The explorer's health SQL: every subscription's deliveries, attempts, first-try success
//! and latency percentiles over a range in one statement, and one subscription's attempts in
//! time buckets. Attempt and delivery ids are UUIDv7, so the range is a primary-key range.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{UNFINISHED, names};
use crate::domain::DeliveryStatus::{Failed, Filtered, Succeeded};

/// One subscription's health over a time range.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionStatsRow {
    pub subscription_id: Uuid,
    pub target_url: String,
    pub status: String,
    pub description: Option<String>,
    /// Deliveries created in the range, by where they stand now.
    pub deliveries: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub unfinished: i64,
    pub filtered: i64,
    /// Attempts made in the range.
    pub attempts: i64,
    pub attempts_succeeded: i64,
    /// Attempts in the range that were a delivery's first, and how many of them succeeded.
    pub first_attempts: i64,
    pub first_attempts_succeeded: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_succeeded: Option<bool>,
}

/// Health of every live subscription (or of `only` one, deleted or not) over `[since, until)`,
/// newest subscription first, in one statement; only `application_id`'s when given.
pub async fn subscription_stats(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    only: Option<Uuid>,
    application_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SubscriptionStatsRow>, sqlx::Error> {
    sqlx::query_as(
        "WITH att AS (SELECT d.subscription_id, count(*) AS attempts, \
           count(*) FILTER (WHERE a.succeeded) AS attempts_succeeded, \
           count(*) FILTER (WHERE a.attempt_number = 1) AS first_attempts, \
           count(*) FILTER (WHERE a.attempt_number = 1 AND a.succeeded) AS first_attempts_succeeded, \
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms) AS p50_ms, \
           percentile_cont(0.95) WITHIN GROUP (ORDER BY a.duration_ms) AS p95_ms, \
           max(a.attempted_at) AS last_attempt_at, \
           (array_agg(a.status_code ORDER BY a.id DESC))[1] AS last_status_code, \
           (array_agg(a.succeeded ORDER BY a.id DESC))[1] AS last_succeeded \
         FROM attempts a JOIN deliveries d ON d.id = a.delivery_id \
         WHERE a.id >= $1 AND a.id < $2 AND ($3::uuid IS NULL OR d.subscription_id = $3) \
         GROUP BY d.subscription_id), \
         del AS (SELECT subscription_id, count(*) AS deliveries, \
           count(*) FILTER (WHERE status = $5) AS succeeded, \
           count(*) FILTER (WHERE status = $6) AS failed, \
           count(*) FILTER (WHERE status = ANY($7)) AS unfinished, \
           count(*) FILTER (WHERE status = $8) AS filtered \
         FROM deliveries WHERE id >= $1 AND id < $2 AND ($3::uuid IS NULL OR subscription_id = $3) \
         GROUP BY subscription_id) \
         SELECT s.id AS subscription_id, s.target_url, s.status, s.description, \
           coalesce(del.deliveries, 0) AS deliveries, coalesce(del.succeeded, 0) AS succeeded, \
           coalesce(del.failed, 0) AS failed, coalesce(del.unfinished, 0) AS unfinished, \
           coalesce(del.filtered, 0) AS filtered, coalesce(att.attempts, 0) AS attempts, \
           coalesce(att.attempts_succeeded, 0) AS attempts_succeeded, \
           coalesce(att.first_attempts, 0) AS first_attempts, \
           coalesce(att.first_attempts_succeeded, 0) AS first_attempts_succeeded, \
           att.p50_ms, att.p95_ms, att.last_attempt_at, att.last_status_code, att.last_succeeded \
         FROM subscriptions s LEFT JOIN att ON att.subscription_id = s.id \
         LEFT JOIN del ON del.subscription_id = s.id \
         WHERE (($3::uuid IS NULL AND s.deleted_at IS NULL) OR s.id = $3) \
           AND ($9::uuid IS NULL OR s.application_id = $9) \
         ORDER BY s.id DESC LIMIT $4",
    )
    .bind(crate::domain::uuid_floor(since))
    .bind(crate::domain::uuid_floor(until))
    .bind(only)
    .bind(limit)
    .bind(Succeeded.as_str())
    .bind(Failed.as_str())
    .bind(names(&UNFINISHED))
    .bind(Filtered.as_str())
    .bind(application_id)
    .fetch_all(pool)
    .await
}

/// One bucket of a subscription's attempts over time.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatsBucketRow {
    pub start: DateTime<Utc>,
    pub succeeded: i64,
    pub failed: i64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// A subscription's attempts in `[since, until)` in buckets of `bucket_secs`, only buckets
/// that have attempts, oldest first.
pub async fn subscription_series(
    pool: &PgPool,
    subscription_id: Uuid,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    bucket_secs: i64,
) -> Result<Vec<StatsBucketRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT to_timestamp(floor(extract(epoch FROM a.attempted_at) / $4) * $4) AS start, \
         count(*) FILTER (WHERE a.succeeded) AS succeeded, count(*) FILTER (WHERE NOT a.succeeded) AS failed, \
         percentile_cont(0.5) WITHIN GROUP (ORDER BY a.duration_ms) AS p50_ms, \
         percentile_cont(0.95) WITHIN GROUP (ORDER BY a.duration_ms) AS p95_ms \
         FROM attempts a JOIN deliveries d ON d.id = a.delivery_id \
         WHERE d.subscription_id = $1 AND a.id >= $2 AND a.id < $3 GROUP BY 1 ORDER BY 1",
    )
    .bind(subscription_id)
    .bind(crate::domain::uuid_floor(since))
    .bind(crate::domain::uuid_floor(until))
    .bind(bucket_secs as f64)
    .fetch_all(pool)
    .await
}
