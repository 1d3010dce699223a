//! Delivery status and the attempt log: one delivery (`/deliveries/{id}`, alias
//! `/webhooks/status/{id}`), a subscription's log (`/subscriptions/{id}/deliveries`, alias
//! `/recent-deliveries`), an application's log (`/applications/{app}/deliveries`), a message
//! with its deliveries, and the operator's actions: retry one delivery now, recover every
//! failed delivery since a time. Each works on the plain routes and under
//! `/applications/{app}`; an object of an application the tenant does not reach is `404`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use courier_actors::db::deliveries::{self as db, LogFilter};
use courier_actors::db::{messages, subscriptions};
use courier_actors::domain::{DeliveryStatus, EventType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::views::{DeliveryView, MessageView, delivery_views, message_payload};
use crate::routes::{Page, RouteExt, page_response};
use crate::state::AppState;
use crate::tenant::{Tenant, path_id};

/// Registers the routes under `prefix` (`""` or `/applications/{app}`).
pub fn configure(prefix: &'static str) -> impl Fn(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let p = |tail: &str| format!("{prefix}{tail}");
        cfg.at(&p("/deliveries/{id}"), web::get().to(get_delivery))
            .at(&p("/webhooks/status/{id}"), web::get().to(get_delivery))
            .at(&p("/deliveries/{id}/retry"), web::post().to(retry_delivery))
            .at(&p("/deliveries/{id}/skip"), web::post().to(skip_delivery))
            .at(
                &p("/subscriptions/{id}/deliveries"),
                web::get().to(list_deliveries),
            )
            .at(
                &p("/subscriptions/{id}/recent-deliveries"),
                web::get().to(list_deliveries),
            )
            .at(&p("/subscriptions/{id}/recover"), web::post().to(recover))
            .at(&p("/messages/{id}"), web::get().to(get_message));
        if !prefix.is_empty() {
            cfg.at(
                &p("/deliveries"),
                web::get().to(list_application_deliveries),
            );
        }
    }
}

/// The delivery `{id}` names, with its attempts, when the tenant reaches it.
async fn one_delivery(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<DeliveryView> {
    let row = db::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    tenant.check(row.application_id, "delivery")?;
    let rules = &state.settings.credential_headers;
    let mut views = delivery_views(&state.db, rules, vec![row]).await?;
    views.pop().ok_or(ApiError::NotFound("delivery"))
}

/// A delivery's status, attempt count, next attempt time and every attempt.
#[utoipa::path(get, path = "/deliveries/{task_id}", tag = "deliveries", security(("api_key" = [])),
    params(("task_id" = Uuid, Path, description = "Delivery (task) id")),
    responses((status = 200, body = DeliveryView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_delivery(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&req, "id")?;
    Ok(HttpResponse::Ok().json(one_delivery(&state, &tenant, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LogQuery {
    /// `pending`, `delivering`, `retrying`, `succeeded`, `failed`, `filtered` or `paused`.
    pub status: Option<String>,
    pub event_type: Option<String>,
    /// Created at or after (RFC 3339).
    pub since: Option<String>,
    /// Created before (RFC 3339).
    pub until: Option<String>,
    /// Page size, 1 to 500 (default 20).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub fn parse_time(name: &str, raw: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                ApiError::BadQuery(format!(
                    "{name} must be an RFC 3339 time such as 2026-11-29T12:00:00Z"
                ))
            }),
    }
}

fn log_filter(q: &LogQuery) -> ApiResult<LogFilter> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => {
            Some(DeliveryStatus::parse(s).map_err(|e| ApiError::BadQuery(format!("status: {e}")))?)
        }
        None => None,
    };
    let event_type = match q.event_type.as_deref().filter(|s| !s.is_empty()) {
        Some(e) => Some(
            EventType::parse(e)
                .map_err(|e| ApiError::BadQuery(format!("event_type: {e}")))?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let since = parse_time("since", q.since.as_deref())?;
    let until = parse_time("until", q.until.as_deref())?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(ApiError::BadQuery("since must not be after until".into()));
    }
    Ok(LogFilter {
        status,
        event_type,
        since,
        until,
    })
}

/// A subscription's log outlives it: deleted ones count, when the tenant reaches them.
async fn subscription_reachable(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<()> {
    let app = subscriptions::application_of(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    tenant.check(app, "subscription")
}

/// A subscription's deliveries with their attempts, newest first (kept after the
/// subscription is deleted, until retention).
#[utoipa::path(get, path = "/subscriptions/{id}/deliveries", tag = "deliveries", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id"), LogQuery),
    responses((status = 200, description = "A page; `X-Next-Cursor` names the next one", body = Vec<DeliveryView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_deliveries(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LogQuery>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&req, "id")?;
    let filter = log_filter(&query)?;
    let page = Page::parse(query.limit, query.cursor.as_deref(), 20)?;
    subscription_reachable(&state, &tenant, id).await?;
    let rows =
        db::list_for_subscription(&state.db, id, &filter, page.before, page.limit + 1).await?;
    let views = delivery_views(&state.db, &state.settings.credential_headers, rows).await?;
    Ok(page_response(&req, views, page, |v| v.id))
}

/// An application's deliveries with their attempts, newest first.
#[utoipa::path(get, path = "/applications/{app}/deliveries", tag = "deliveries", security(("api_key" = [])),
    params(("app" = String, Path, description = "Application id or uid"), LogQuery),
    responses((status = 200, description = "A page; `X-Next-Cursor` names the next one", body = Vec<DeliveryView>),
        (status = 400, description = "A filter is malformed", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 404, description = "No such application, or not this principal's", body = ErrorBody)))]
pub async fn list_application_deliveries(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LogQuery>,
) -> ApiResult<HttpResponse> {
    let filter = log_filter(&query)?;
    let page = Page::parse(query.limit, query.cursor.as_deref(), 20)?;
    let rows = db::list_for_application(
        &state.db,
        tenant.app_id,
        &filter,
        page.before,
        page.limit + 1,
    )
    .await?;
    let views = delivery_views(&state.db, &state.settings.credential_headers, rows).await?;
    Ok(page_response(&req, views, page, |v| v.id))
}

/// Sends the delivery again now, whatever its state, with a fresh retry budget. A delivery
/// of a paused or disabled subscription is held until it resumes.
#[utoipa::path(post, path = "/deliveries/{task_id}/retry", tag = "deliveries", security(("api_key" = [])),
    params(("task_id" = Uuid, Path, description = "Delivery (task) id")),
    responses((status = 202, body = DeliveryView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The subscription was deleted", body = ErrorBody)))]
pub async fn retry_delivery(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&req, "id")?;
    let row = db::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    tenant.check(row.application_id, "delivery")?;
    let requeued = state.engine.retry(&[id], None).await?;
    if requeued.is_empty() {
        return Err(ApiError::Conflict(
            "the delivery's subscription was deleted".into(),
        ));
    }
    Ok(HttpResponse::Accepted().json(one_delivery(&state, &tenant, id).await?))
}

/// Ends a delivery that is not finished as `failed` ("skipped by operator") and releases
/// its ordering key at once: the key's next delivery goes.
#[utoipa::path(post, path = "/deliveries/{task_id}/skip", tag = "deliveries", security(("api_key" = [])),
    params(("task_id" = Uuid, Path, description = "Delivery (task) id")),
    responses((status = 202, description = "Skipped; the delivery as it is now", body = DeliveryView),
        (status = 404, description = "No such delivery, or not this tenant's", body = ErrorBody),
        (status = 409, description = "The delivery is already finished", body = ErrorBody)))]
pub async fn skip_delivery(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&req, "id")?;
    let row = db::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    tenant.check(row.application_id, "delivery")?;
    if !state.engine.skip(id).await? {
        return Err(ApiError::Conflict(format!(
            "the delivery is already {}; only an unfinished one can be skipped",
            row.status
        )));
    }
    Ok(HttpResponse::Accepted().json(one_delivery(&state, &tenant, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RecoverQuery {
    /// Re-queue failed deliveries created at or after this time (RFC 3339). Required.
    pub since: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"requeued": 42}))]
pub struct Recovered {
    pub requeued: usize,
}

/// Re-queues every failed delivery of the subscription since a time, each with a fresh
/// retry budget.
#[utoipa::path(post, path = "/subscriptions/{id}/recover", tag = "deliveries", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id"), RecoverQuery),
    responses((status = 202, body = Recovered), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn recover(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<RecoverQuery>,
) -> ApiResult<HttpResponse> {
    let id = crate::routes::subscriptions::reachable(&state, &tenant, &req)
        .await?
        .id;
    let since = parse_time("since", query.since.as_deref())?
        .ok_or_else(|| ApiError::BadQuery("since is required".into()))?;
    let requeued = state.engine.recover(id, since).await?;
    tracing::info!(sub = %id, requeued, "failed deliveries recovered");
    Ok(HttpResponse::Accepted().json(Recovered { requeued }))
}

/// A message with its deliveries and their attempts.
#[utoipa::path(get, path = "/messages/{id}", tag = "deliveries", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Message id")),
    responses((status = 200, body = MessageView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_message(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&req, "id")?;
    let m = messages::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    tenant.check(m.application_id, "message")?;
    let rows = db::for_message(&state.db, m.id).await?;
    let deliveries = delivery_views(&state.db, &state.settings.credential_headers, rows).await?;
    Ok(HttpResponse::Ok().json(MessageView {
        id: m.id,
        application_id: m.application_id,
        event_type: m.event_type,
        payload: message_payload(&m.payload),
        subscription_id: m.subscription_id,
        created_at: m.created_at,
        deliveries,
    }))
}
