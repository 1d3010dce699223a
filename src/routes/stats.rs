//! `GET /stats/overview`: what the dashboard's first page shows — attempts per minute and
//! success over the last hour, pending retries, subscriptions by status, and the
//! subscriptions that are failing.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use courier_actors::db::stats;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::routes::RouteExt;
use crate::state::AppState;
use crate::tenant::Tenant;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.at("/stats/overview", web::get().to(overview)).at(
        "/applications/{app}/stats/overview",
        web::get().to(overview),
    );
}

#[derive(Debug, Serialize, ToSchema)]
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

#[derive(Debug, Serialize, ToSchema)]
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
pub async fn overview(tenant: Tenant, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let (db, app) = (&state.db, tenant.visible());
    let per_minute = stats::attempts_per_minute(db, app)
        .await?
        .into_iter()
        .map(|m| MinuteStats {
            minute: m.minute,
            succeeded: m.succeeded,
            failed: m.failed,
        })
        .collect();
    let (pending_retries, queued) = stats::waiting(db, app).await?;
    let mut subscriptions = StatusCounts::default();
    for (status, n) in stats::subscriptions_by_status(db, app).await? {
        match status.as_str() {
            "active" => subscriptions.active = n,
            "paused" => subscriptions.paused = n,
            _ => subscriptions.disabled += n,
        }
    }
    let failing_subscriptions = stats::failing_subscriptions(db, app)
        .await?
        .into_iter()
        .map(|f| FailingSubscription {
            id: f.id,
            target_url: f.target_url,
            status: f.status,
            disabled_reason: f.disabled_reason,
            failing_since: f.failing_since,
            failed_last_hour: f.failed_last_hour,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Overview {
        per_minute,
        pending_retries,
        queued,
        subscriptions,
        failing_subscriptions,
    }))
}
