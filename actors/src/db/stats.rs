//! The overview's numbers: attempts per minute over the last hour, deliveries waiting,
//! subscriptions by status, and the subscriptions that are failing. Every query takes `app`:
//! one application's numbers, or (`None`) every application's.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MinuteRow {
    pub minute: DateTime<Utc>,
    pub succeeded: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailingRow {
    pub id: Uuid,
    pub target_url: String,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub failed_last_hour: i64,
}

/// Attempts of the last 60 minutes by minute, oldest first (empty minutes as zeros).
pub async fn attempts_per_minute(
    pool: &PgPool,
    app: Option<Uuid>,
) -> Result<Vec<MinuteRow>, sqlx::Error> {
    // Attempt ids are time-ordered: "the last hour" is a primary-key range.
    let hour_ago = crate::domain::uuid_floor(Utc::now() - chrono::Duration::minutes(61));
    sqlx::query_as(
        "SELECT m.minute, count(a.id) FILTER (WHERE a.succeeded) AS succeeded, \
         count(a.id) FILTER (WHERE NOT a.succeeded) AS failed \
         FROM generate_series(date_trunc('minute', now()) - interval '59 minutes', date_trunc('minute', now()), interval '1 minute') AS m(minute) \
         LEFT JOIN (SELECT a.attempted_at, a.succeeded, a.id FROM attempts a \
           WHERE a.id >= $1 AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM deliveries d \
             WHERE d.id = a.delivery_id AND d.application_id = $2))) a \
           ON a.attempted_at >= m.minute AND a.attempted_at < m.minute + interval '1 minute' \
         GROUP BY m.minute ORDER BY m.minute",
    )
    .bind(hour_ago)
    .bind(app)
    .fetch_all(pool)
    .await
}

crate::statement!(
    WAITING = "SELECT count(*) FILTER (WHERE status = {retrying}), \
     count(*) FILTER (WHERE status IN ({pending}, {paused})) \
     FROM deliveries WHERE status IN {UNFINISHED} AND ($1::uuid IS NULL OR application_id = $1)"
);

/// `(waiting for a retry, waiting for a first attempt or held)`.
pub async fn waiting(pool: &PgPool, app: Option<Uuid>) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(WAITING.as_str())
        .bind(app)
        .fetch_one(pool)
        .await
}

/// `(status, count)` of live subscriptions.
pub async fn subscriptions_by_status(
    pool: &PgPool,
    app: Option<Uuid>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, count(*) FROM subscriptions WHERE deleted_at IS NULL \
         AND ($1::uuid IS NULL OR application_id = $1) GROUP BY status",
    )
    .bind(app)
    .fetch_all(pool)
    .await
}

/// Disabled subscriptions and those in a failing streak, at most 50.
pub async fn failing_subscriptions(
    pool: &PgPool,
    app: Option<Uuid>,
) -> Result<Vec<FailingRow>, sqlx::Error> {
    let hour_ago = crate::domain::uuid_floor(Utc::now() - chrono::Duration::minutes(61));
    sqlx::query_as(
        "SELECT s.id, s.target_url, s.status, s.disabled_reason, h.failing_since, \
         (SELECT count(*) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id \
          WHERE d.subscription_id = s.id AND NOT a.succeeded AND a.id >= $1) AS failed_last_hour \
         FROM subscriptions s LEFT JOIN subscription_health h ON h.subscription_id = s.id \
         WHERE s.deleted_at IS NULL AND (s.status = 'disabled' OR h.failing_since IS NOT NULL) \
         AND ($2::uuid IS NULL OR s.application_id = $2) \
         ORDER BY s.status = 'disabled' DESC, h.failing_since NULLS LAST LIMIT 50",
    )
    .bind(hour_ago)
    .bind(app)
    .fetch_all(pool)
    .await
}
