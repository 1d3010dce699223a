//! Subscription management: create, list, get, PUT, PATCH, DELETE, pause, resume and
//! rotate-secret. Bodies are parsed into domain types here; below this module nothing
//! re-validates. Every change goes through the engine's lifecycle (one transaction each,
//! recorded in the change log that every node's directory follows).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use courier_actors::db::subscriptions::{self as db, SubscriptionRow, SubscriptionSpec};
use courier_actors::domain::{
    EventFilter, Invalid, SigningSecret, SubscriptionStatus, TargetUrl, check_text,
};
use courier_actors::headers::ExtraHeaders;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::ApiKey;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::{Page, RouteExt, method_not_allowed, page_response};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/subscriptions")
            .route(web::post().to(create_subscription))
            .route(web::get().to(list_subscriptions))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/subscriptions/{id}")
            .route(web::get().to(get_subscription))
            .route(web::put().to(replace_subscription))
            .route(web::patch().to(patch_subscription))
            .route(web::delete().to(delete_subscription))
            .default_service(web::to(method_not_allowed)),
    )
    .at(
        "/subscriptions/{id}/pause",
        web::post().to(pause_subscription),
    )
    .at(
        "/subscriptions/{id}/resume",
        web::post().to(resume_subscription),
    )
    .at(
        "/subscriptions/{id}/rotate-secret",
        web::post().to(rotate_secret),
    );
}

/// Default `max_in_flight`: concurrent attempts to one subscription.
pub const DEFAULT_MAX_IN_FLIGHT: i32 = 16;

/// A subscription as the API shows it. The secret appears only in the answers of create and
/// rotate-secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01938a6e-7d1c-7b3e-9f00-6a2b1c3d4e5f", "target_url": "https://example.com/webhook",
    "event_types": ["order.created", "user.*"], "description": "orders to the ERP", "headers": {"x-team": "erp"},
    "rate_limit_per_second": 50, "max_in_flight": 16, "timeout_ms": 5000, "status": "active",
    "disabled_reason": null, "is_active": true, "requires_signature": true,
    "created_at": "2026-11-29T12:00:00Z", "updated_at": "2026-11-29T12:00:00Z"
}))]
pub struct SubscriptionView {
    pub id: Uuid,
    pub target_url: String,
    /// Patterns: exact (`order.created`), prefix (`order.*`) or `*`. Empty means every event.
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// Extra headers sent with every delivery.
    pub headers: BTreeMap<String, String>,
    /// Deliveries per second at most (token bucket); null means unlimited.
    pub rate_limit_per_second: Option<i32>,
    /// Concurrent attempts at most.
    pub max_in_flight: i32,
    /// Per-attempt timeout; null means the server default.
    pub timeout_ms: Option<i32>,
    /// `active`, `paused` or `disabled`.
    pub status: String,
    /// Why the subscription was disabled, when it was.
    pub disabled_reason: Option<String>,
    /// `status == "active"` (kept for clients of the original service).
    pub is_active: bool,
    /// Whether ingestion must carry `X-Hub-Signature-256` (the client chose the secret).
    pub requires_signature: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signing secret: only in the answers of create and rotate-secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl SubscriptionView {
    pub fn from_row(row: SubscriptionRow, secret: Option<String>) -> Self {
        Self {
            is_active: row.status == SubscriptionStatus::Active.as_str(),
            id: row.id,
            target_url: row.target_url,
            event_types: row.event_types,
            description: row.description,
            headers: row.headers.0,
            rate_limit_per_second: row.rate_limit_per_second,
            max_in_flight: row.max_in_flight,
            timeout_ms: row.timeout_ms,
            status: row.status,
            disabled_reason: row.disabled_reason,
            requires_signature: row.requires_signature,
            created_at: row.created_at,
            updated_at: row.updated_at,
            secret,
        }
    }
}

/// Body of create and PUT. `secret_key` is accepted as an alias of `secret` (the original
/// service's examples use it); PUT refuses a secret (use rotate-secret).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"target_url": "https://example.com/webhook", "secret": "mysecret",
    "event_types": ["order.created", "user.updated"]}))]
pub struct SubscriptionBody {
    pub target_url: String,
    /// Optional. When given, ingestion for this subscription must be signed with it. When
    /// absent, Courier generates a `whsec_` secret (shown once) and ingestion needs the API key.
    #[serde(default, alias = "secret_key")]
    pub secret: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub rate_limit_per_second: Option<i32>,
    #[serde(default)]
    pub max_in_flight: Option<i32>,
    #[serde(default)]
    pub timeout_ms: Option<i32>,
}

/// Body of PATCH: absent fields stay as they are; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"event_types": ["order.*"], "rate_limit_per_second": null}))]
pub struct SubscriptionPatch {
    pub target_url: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub headers: Option<Option<BTreeMap<String, String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub rate_limit_per_second: Option<Option<i32>>,
    pub max_in_flight: Option<i32>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub timeout_ms: Option<Option<i32>>,
    #[serde(default, alias = "secret_key")]
    #[schema(ignore)]
    pub secret: Option<serde::de::IgnoredAny>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Body of rotate-secret: optionally the new secret; otherwise one is generated.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RotateBody {
    #[serde(default, alias = "secret_key")]
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// `active`, `paused` or `disabled`.
    pub status: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
}

fn check_description(d: Option<String>) -> Result<Option<String>, Invalid> {
    match d {
        Some(d) if d.chars().count() > 1000 => {
            Err(Invalid("description is longer than 1000 characters".into()))
        }
        Some(d) => {
            check_text("description", &d, true)?;
            Ok(Some(d))
        }
        None => Ok(None),
    }
}

fn check_range(name: &str, v: Option<i32>, lo: i32, hi: i32) -> Result<Option<i32>, Invalid> {
    match v {
        Some(n) if !(lo..=hi).contains(&n) => {
            Err(Invalid(format!("{name} must be between {lo} and {hi}")))
        }
        other => Ok(other),
    }
}

/// Everything but the secret, validated.
fn spec_from_parts(
    target_url: &str,
    event_types: Option<Vec<String>>,
    description: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    limits: (Option<i32>, Option<i32>, Option<i32>),
) -> Result<SubscriptionSpec, Invalid> {
    let (rate, in_flight, timeout) = limits;
    Ok(SubscriptionSpec {
        target_url: TargetUrl::parse(target_url)?,
        event_types: EventFilter::parse(&event_types.unwrap_or_default())?,
        description: check_description(description)?,
        headers: ExtraHeaders::parse(headers.unwrap_or_default())?,
        rate_limit_per_second: check_range("rate_limit_per_second", rate, 1, 100_000)?,
        max_in_flight: check_range("max_in_flight", in_flight, 1, 1_000)?
            .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        timeout_ms: check_range("timeout_ms", timeout, 100, 120_000)?,
    })
}

fn spec_from_body(b: SubscriptionBody) -> Result<SubscriptionSpec, Invalid> {
    spec_from_parts(
        &b.target_url,
        b.event_types,
        b.description,
        b.headers,
        (b.rate_limit_per_second, b.max_in_flight, b.timeout_ms),
    )
}

fn merge_patch(
    current: &SubscriptionRow,
    p: SubscriptionPatch,
) -> Result<SubscriptionSpec, Invalid> {
    let old = SubscriptionSpec::from_row(current);
    spec_from_parts(
        p.target_url.as_deref().unwrap_or(old.target_url.as_str()),
        p.event_types
            .unwrap_or_else(|| Some(old.event_types.to_strings())),
        p.description.unwrap_or(old.description),
        p.headers
            .unwrap_or_else(|| Some(old.headers.as_map().clone())),
        (
            p.rate_limit_per_second.unwrap_or(old.rate_limit_per_second),
            Some(p.max_in_flight.unwrap_or(old.max_in_flight)),
            p.timeout_ms.unwrap_or(old.timeout_ms),
        ),
    )
}

/// Create a subscription.
#[utoipa::path(post, path = "/subscriptions/", tag = "subscriptions", request_body = SubscriptionBody,
    security(("api_key" = [])),
    responses((status = 201, description = "Created; the only answer (with rotate-secret) that shows the secret", body = SubscriptionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn create_subscription(
    _key: ApiKey,
    state: web::Data<AppState>,
    body: web::Json<SubscriptionBody>,
) -> ApiResult<HttpResponse> {
    let mut body = body.into_inner();
    let given = body.secret.take();
    let spec = spec_from_body(body)?;
    let (secret, requires_signature) = match given {
        Some(s) => (SigningSecret::parse(&s)?, true),
        None => (SigningSecret::generate(), false),
    };
    let row = state
        .engine
        .create_subscription(&spec, &secret, requires_signature)
        .await?;
    tracing::info!(id = %row.id, "subscription created");
    let view = SubscriptionView::from_row(row, Some(secret.expose().to_owned()));
    Ok(HttpResponse::Created().json(view))
}

/// List subscriptions, newest first.
#[utoipa::path(get, path = "/subscriptions/", tag = "subscriptions", params(ListQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "A page; `X-Next-Cursor` names the next one", body = Vec<SubscriptionView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list_subscriptions(
    _key: ApiKey,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            SubscriptionStatus::parse(s).map_err(|e| ApiError::BadQuery(format!("status: {e}")))?,
        ),
        None => None,
    };
    let page = Page::parse(query.limit, query.cursor.as_deref(), 50)?;
    let rows = db::list(&state.db, status, page.before, page.limit + 1).await?;
    let views: Vec<SubscriptionView> = rows
        .into_iter()
        .map(|r| SubscriptionView::from_row(r, None))
        .collect();
    Ok(page_response(&req, views, page, |v| v.id))
}

/// Get one subscription.
#[utoipa::path(get, path = "/subscriptions/{id}", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_subscription(
    _key: ApiKey,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let row = db::get(&state.db, *id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from_row(row, None)))
}

/// Replace a subscription (every field; absent optional fields take their defaults).
#[utoipa::path(put, path = "/subscriptions/{id}", tag = "subscriptions", request_body = SubscriptionBody,
    security(("api_key" = [])), params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn replace_subscription(
    _key: ApiKey,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<SubscriptionBody>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    if body.secret.is_some() {
        return Err(ApiError::Validation(
            "the secret cannot be set here: use POST /subscriptions/{id}/rotate-secret".into(),
        ));
    }
    let spec = spec_from_body(body)?;
    let row = state.engine.update_subscription(*id, |_| Ok(spec)).await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from_row(row, None)))
}

/// Update some fields of a subscription.
#[utoipa::path(patch, path = "/subscriptions/{id}", tag = "subscriptions", request_body = SubscriptionPatch,
    security(("api_key" = [])), params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patch_subscription(
    _key: ApiKey,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<SubscriptionPatch>,
) -> ApiResult<HttpResponse> {
    let patch = body.into_inner();
    if patch.secret.is_some() {
        return Err(ApiError::Validation(
            "the secret cannot be set here: use POST /subscriptions/{id}/rotate-secret".into(),
        ));
    }
    let row = state
        .engine
        .update_subscription(*id, |current| merge_patch(current, patch))
        .await?;
    Ok(HttpResponse::Ok().json(SubscriptionView::from_row(row, None)))
}

/// Delete a subscription: its pending deliveries stop; its log stays until retention.
#[utoipa::path(delete, path = "/subscriptions/{id}", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_subscription(
    _key: ApiKey,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    state.engine.delete_subscription(*id).await?;
    tracing::info!(id = %id, "subscription deleted");
    Ok(HttpResponse::NoContent().finish())
}

async fn set_status(
    state: &AppState,
    id: Uuid,
    status: SubscriptionStatus,
) -> ApiResult<HttpResponse> {
    let row = state.engine.set_status(id, status).await?;
    tracing::info!(%id, status = %status, "subscription status changed");
    Ok(HttpResponse::Ok().json(SubscriptionView::from_row(row, None)))
}

/// Pause: new deliveries are held (kept, not dropped) until resume.
#[utoipa::path(post, path = "/subscriptions/{id}/pause", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn pause_subscription(
    _key: ApiKey,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    set_status(&state, *id, SubscriptionStatus::Paused).await
}

/// Resume (also re-enables a disabled subscription): held deliveries drain.
#[utoipa::path(post, path = "/subscriptions/{id}/resume", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resume_subscription(
    _key: ApiKey,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    set_status(&state, *id, SubscriptionStatus::Active).await
}

/// Rotate the signing secret; the old one keeps signing beside it for `COURIER_SECRET_OVERLAP`.
#[utoipa::path(post, path = "/subscriptions/{id}/rotate-secret", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")), request_body(content = Option<RotateBody>),
    responses((status = 200, description = "The subscription with its new secret", body = SubscriptionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    _key: ApiKey,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let body: RotateBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::InvalidJson(e.to_string()))?
    };
    let secret = match body.secret {
        Some(s) => SigningSecret::parse(&s)?,
        None => SigningSecret::generate(),
    };
    let overlap = chrono::Duration::from_std(state.settings.secret_overlap)
        .unwrap_or(chrono::Duration::hours(24));
    let row = state
        .engine
        .rotate_secret(*id, &secret, Utc::now() + overlap)
        .await?;
    tracing::info!(%id, "subscription secret rotated");
    Ok(HttpResponse::Ok().json(SubscriptionView::from_row(
        row,
        Some(secret.expose().to_owned()),
    )))
}
