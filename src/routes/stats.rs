//! `GET /stats/overview`: what the dashboard's first page shows — attempts per minute and
//! success over the last hour, pending retries, subscriptions by status, and the
//! subscriptions that are failing.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::ApiKey;
use crate::error::{ApiResult, ErrorBody};
use crate::routes::RouteExt;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.at("/stats/overview", web::get().to(overview));
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct MinuteStats {
    pub minute: DateTime<Utc>,
    pub succeeded: i64,
    pub failed: i64,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct StatusCounts {
    pub active: i64,
    pub paused: i64,
    pub disabled: i64,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct FailingSubscription {
    pub id: Uuid,
    pub target_url: String,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub failed_last_hour: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    /// The last 60 minutes, oldest first (minutes without attempts included, as zeros).
    pub per_minute: Vec<MinuteStats>,
    /// Deliveries waiting for a retry.
    pub pending_retries: i64,
    /// Deliveries waiting for their first attempt, or held by a paused or disabled subscription.
    pub queued: i64,
    pub subscriptions: StatusCounts,
    /// Disabled subscriptions, and those whose last hour has failed attempts.
    pub failing_subscriptions: Vec<FailingSubscription>,
}

/// Overview for the operator's first page.
#[utoipa::path(get, path = "/stats/overview", tag = "operations", security(("api_key" = [])),
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody)))]
pub async fn overview(_key: ApiKey, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let db = &state.db;
    // Attempt ids are time-ordered: "the last hour" is a primary-key range.
    let hour_ago = courier_actors::domain::uuid_floor(Utc::now() - chrono::Duration::minutes(61));
    let per_minute: Vec<MinuteStats> = sqlx::query_as(
        "SELECT m.minute, count(a.id) FILTER (WHERE a.succeeded) AS succeeded, \
         count(a.id) FILTER (WHERE NOT a.succeeded) AS failed \
         FROM generate_series(date_trunc('minute', now()) - interval '59 minutes', date_trunc('minute', now()), interval '1 minute') AS m(minute) \
         LEFT JOIN (SELECT attempted_at, succeeded, id FROM attempts WHERE id >= $1) a \
           ON a.attempted_at >= m.minute AND a.attempted_at < m.minute + interval '1 minute' \
         GROUP BY m.minute ORDER BY m.minute",
    )
    .bind(hour_ago)
    .fetch_all(db)
    .await?;
    let (pending_retries, queued): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'retrying'), count(*) FILTER (WHERE status IN ('pending', 'paused')) \
         FROM deliveries WHERE status IN ('pending', 'delivering', 'retrying', 'paused')",
    )
    .fetch_one(db)
    .await?;
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM subscriptions WHERE deleted_at IS NULL GROUP BY status",
    )
    .fetch_all(db)
    .await?;
    let mut subscriptions = StatusCounts::default();
    for (status, n) in counts {
        match status.as_str() {
            "active" => subscriptions.active = n,
            "paused" => subscriptions.paused = n,
            _ => subscriptions.disabled += n,
        }
    }
    let failing_subscriptions: Vec<FailingSubscription> = sqlx::query_as(
        "SELECT s.id, s.target_url, s.status, s.disabled_reason, s.failing_since, \
         (SELECT count(*) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id \
          WHERE d.subscription_id = s.id AND NOT a.succeeded AND a.id >= $1) AS failed_last_hour \
         FROM subscriptions s WHERE s.deleted_at IS NULL AND (s.status = 'disabled' OR s.failing_since IS NOT NULL) \
         ORDER BY s.status = 'disabled' DESC, s.failing_since NULLS LAST LIMIT 50",
    )
    .bind(hour_ago)
    .fetch_all(db)
    .await?;
    Ok(HttpResponse::Ok().json(Overview {
        per_minute,
        pending_retries,
        queued,
        subscriptions,
        failing_subscriptions,
    }))
}
