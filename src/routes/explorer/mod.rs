//! The explorer: every delivery and every message across subscriptions (filtered, cursor
//! paged, compact rows), the health of subscriptions over a time range, and bulk retry and
//! cancel of a filtered set of deliveries. Inputs are parsed in `filters`; the SQL is in
//! `courier_actors::db::explorer`.
//!
//! A bulk action needs `subscription_id` or `since` (nobody retries the whole history by
//! accident) and acts on at most `BULK_CAP` deliveries per call.
//!
//! Everything is scoped like the other routes ([`crate::tenant`]): an admin on the plain
//! routes sees every application, an application key (or `/applications/{app}/…`) one.

mod filters;
mod views;

use actix_web::{HttpRequest, HttpResponse, web};
use courier_actors::db::explorer::{self as db, MessageFilter};
use courier_actors::domain::DeliveryStatus;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::{Page, RouteExt, page_response};
use crate::state::AppState;
use crate::tenant::{Tenant, path_id};

pub use filters::{BulkFilter, DeliverySearch, MessageSearch, StatsRange};
use filters::{
    bucket_seconds, bulk_body, bulk_filter, delivery_filter, parse_event_type, parse_id_fragment,
    parse_limit, stats_range, time_range,
};
pub use views::{
    BulkCancelled, BulkRetried, DeliverySummary, MessageSummary, SubscriptionHealth,
    SubscriptionStats, SubscriptionsHealth, series_with_gaps,
};

/// The most deliveries one bulk call acts on.
pub const BULK_CAP: i64 = 10_000;
/// The most subscriptions `GET /stats/subscriptions` answers with.
const MAX_HEALTH_ROWS: i64 = 1_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for prefix in ["", crate::routes::SCOPED] {
        let p = |tail: &str| format!("{prefix}{tail}");
        cfg.at(&p("/deliveries/retry"), web::post().to(bulk_retry))
            .at(&p("/deliveries/cancel"), web::post().to(bulk_cancel))
            .at(&p("/messages"), web::get().to(search_messages))
            .at(
                &p("/subscriptions/{id}/stats"),
                web::get().to(subscription_stats),
            )
            .at(
                &p("/stats/subscriptions"),
                web::get().to(subscriptions_health),
            );
    }
    // (`/applications/{app}/deliveries` is the application's log, in `deliveries`.)
    cfg.at("/deliveries", web::get().to(search_deliveries));
}

/// Every delivery, newest first, as compact rows (no payload, no attempts: open one with
/// `GET /deliveries/{id}`).
#[utoipa::path(get, path = "/deliveries", tag = "deliveries", security(("api_key" = [])),
    params(DeliverySearch),
    responses(
        (status = 200, description = "A page of deliveries, newest first; `X-Next-Cursor` (and `Link: rel=\"next\"`) name the next page",
            body = Vec<DeliverySummary>),
        (status = 400, description = "A filter, the limit or the cursor is not valid", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "`application` names no application these credentials reach", body = ErrorBody)))]
pub async fn search_deliveries(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<DeliverySearch>,
) -> ApiResult<HttpResponse> {
    let mut filter = delivery_filter(&query)?;
    filter.application_id = match query.application.as_deref().filter(|a| !a.is_empty()) {
        Some(key) => {
            let app = crate::routes::applications::resolve(&state, &tenant.principal, key).await?;
            tenant.check(app.id, "application")?;
            Some(app.id)
        }
        None => tenant.visible(),
    };
    let page = Page::parse(
        parse_limit(query.limit.as_deref())?,
        query.cursor.as_deref(),
        50,
    )?;
    let rows = db::list_deliveries(&state.db, &filter, page.before, page.limit + 1).await?;
    let views: Vec<DeliverySummary> = rows.into_iter().map(Into::into).collect();
    Ok(page_response(&req, views, page, |v| v.id))
}

/// Every message, newest first, with its deliveries counted by status.
#[utoipa::path(get, path = "/messages", tag = "deliveries", security(("api_key" = [])),
    params(MessageSearch),
    responses(
        (status = 200, description = "A page of messages, newest first; `X-Next-Cursor` names the next page",
            body = Vec<MessageSummary>),
        (status = 400, description = "A filter, the limit or the cursor is not valid", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody)))]
pub async fn search_messages(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<MessageSearch>,
) -> ApiResult<HttpResponse> {
    let (event_type, event_prefix) = parse_event_type(query.event_type.as_deref())?;
    let (since, until) = time_range(query.since.as_deref(), query.until.as_deref())?;
    let filter = MessageFilter {
        event_type,
        event_prefix,
        since,
        until,
        id_fragment: parse_id_fragment(query.id.as_deref())?,
        application_id: tenant.visible(),
    };
    let page = Page::parse(
        parse_limit(query.limit.as_deref())?,
        query.cursor.as_deref(),
        50,
    )?;
    let rows = db::list_messages(&state.db, &filter, page.before, page.limit + 1).await?;
    let views: Vec<MessageSummary> = rows.into_iter().map(Into::into).collect();
    Ok(page_response(&req, views, page, |v| v.id))
}

/// Re-queues the matching deliveries (oldest first, at most 10,000 per call), each with a
/// fresh retry budget, as `POST /deliveries/{id}/retry` does for one. `filtered` and
/// in-flight deliveries, and those of deleted subscriptions, are left alone.
#[utoipa::path(post, path = "/deliveries/retry", tag = "deliveries", security(("api_key" = [])),
    request_body = BulkFilter,
    responses(
        (status = 202, description = "Re-queued; `truncated` says more matched than one call takes (call again)", body = BulkRetried),
        (status = 400, description = "A filter is not valid, or neither subscription_id nor since was given", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody)))]
pub async fn bulk_retry(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let mut filter = bulk_filter(&bulk_body(&body)?, DeliveryStatus::Failed.as_str())?;
    filter.application_id = tenant.visible();
    let matched = db::count_matching(&state.db, &filter, &db::RETRYABLE, BULK_CAP).await?;
    let ids = db::matching_ids(&state.db, &filter, &db::RETRYABLE, BULK_CAP).await?;
    // The engine re-queues (or holds, for a subscription that is not active) under the
    // change lock, and hands them to their actors.
    let count = state.engine.retry(&ids, Some(&db::RETRYABLE)).await?.len();
    tracing::info!(matched, requeued = count, "bulk retry");
    Ok(HttpResponse::Accepted().json(BulkRetried {
        matched: matched.min(BULK_CAP),
        requeued: count,
        truncated: matched > BULK_CAP,
        cap: BULK_CAP,
    }))
}

/// Cancels the matching unfinished deliveries (`pending`, `retrying`, `paused`; at most
/// 10,000 per call): each becomes `failed` with `last_error` "cancelled by operator" and no
/// next attempt. An attempt already in flight finishes, but cannot undo the cancel.
#[utoipa::path(post, path = "/deliveries/cancel", tag = "deliveries", security(("api_key" = [])),
    request_body = BulkFilter,
    responses(
        (status = 202, description = "Cancelled; `truncated` says more matched than one call takes (call again)", body = BulkCancelled),
        (status = 400, description = "A filter is not valid, or neither subscription_id nor since was given", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody)))]
pub async fn bulk_cancel(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let mut filter = bulk_filter(&bulk_body(&body)?, &db::names(&db::CANCELLABLE).join(","))?;
    filter.application_id = tenant.visible();
    let matched = db::count_matching(&state.db, &filter, &db::CANCELLABLE, BULK_CAP).await?;
    let cancelled = db::bulk_cancel(&state.db, &filter, BULK_CAP).await?.len();
    tracing::info!(matched, cancelled, "bulk cancel");
    Ok(HttpResponse::Accepted().json(BulkCancelled {
        matched: matched.min(BULK_CAP),
        cancelled,
        truncated: matched > BULK_CAP,
        cap: BULK_CAP,
    }))
}

/// Health of every subscription over a range (default the last 24 hours), newest
/// subscription first, at most 1,000: deliveries by status, first-attempt and eventual
/// success rates, attempt latency, the last attempt.
#[utoipa::path(get, path = "/stats/subscriptions", tag = "operations", security(("api_key" = [])),
    params(StatsRange),
    responses(
        (status = 200, description = "The range and one entry per live subscription", body = SubscriptionsHealth),
        (status = 400, description = "A time is not RFC 3339, or the range is reversed or longer than 31 days", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody)))]
pub async fn subscriptions_health(
    tenant: Tenant,
    state: web::Data<AppState>,
    query: web::Query<StatsRange>,
) -> ApiResult<HttpResponse> {
    let (since, until) = stats_range(&query)?;
    let app = tenant.visible();
    let rows = db::subscription_stats(&state.db, since, until, None, app, MAX_HEALTH_ROWS).await?;
    Ok(HttpResponse::Ok().json(SubscriptionsHealth {
        since,
        until,
        subscriptions: rows.into_iter().map(SubscriptionHealth::from).collect(),
    }))
}

/// One subscription's health over a range (default the last 24 hours), with its attempts
/// over time (succeeded, failed, p50 and p95 latency per bucket).
#[utoipa::path(get, path = "/subscriptions/{id}/stats", tag = "operations", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id"), StatsRange),
    responses(
        (status = 200, description = "The subscription's health and its attempts over time", body = SubscriptionStats),
        (status = 400, description = "A time is not RFC 3339, or the range is reversed or longer than 31 days", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "No such subscription", body = ErrorBody)))]
pub async fn subscription_stats(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<StatsRange>,
) -> ApiResult<HttpResponse> {
    let id: Uuid = path_id(&req, "id")?;
    let (since, until) = stats_range(&query)?;
    let app = courier_actors::db::subscriptions::application_of(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    tenant.check(app, "subscription")?;
    let row = db::subscription_stats(&state.db, since, until, Some(id), None, 1)
        .await?
        .pop()
        .ok_or(ApiError::NotFound("subscription"))?;
    let bucket = bucket_seconds(until - since);
    let buckets = db::subscription_series(&state.db, id, since, until, bucket).await?;
    Ok(HttpResponse::Ok().json(SubscriptionStats {
        since,
        until,
        health: row.into(),
        bucket_seconds: bucket,
        series: series_with_gaps(since, until, bucket, buckets),
    }))
}
