//! Subscription management: create, list, get, PUT, PATCH, DELETE, pause, resume and
//! rotate-secret, on the plain routes (`/subscriptions/…`, the principal's home application)
//! and under `/applications/{app}/…` ([`crate::tenant`]). Bodies are parsed into domain
//! types here ([`model`]); every change goes through the engine's lifecycle (one transaction
//! each, recorded in the change log that every node's directory follows).

mod model;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use courier_actors::db::subscriptions::{self as db, SubscriptionRow};
use courier_actors::domain::{SigningSecret, SubscriptionStatus};

pub use self::model::{
    DEFAULT_MAX_IN_FLIGHT, ListQuery, RotateBody, SubscriptionBody, SubscriptionPatch,
    SubscriptionView,
};
use self::model::{keep_masked, merge_patch, spec_from_body};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::{Page, RouteExt, method_not_allowed, page_response};
use crate::state::AppState;
use crate::tenant::{Tenant, path_id};

/// Registers the routes under `prefix` (`""` or `/applications/{app}`).
pub fn configure(prefix: &'static str) -> impl Fn(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let p = |tail: &str| format!("{prefix}/subscriptions{tail}");
        cfg.service(
            web::resource(p(""))
                .route(web::post().to(create_subscription))
                .route(web::get().to(list_subscriptions))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(p("/{id}"))
                .route(web::get().to(get_subscription))
                .route(web::put().to(replace_subscription))
                .route(web::patch().to(patch_subscription))
                .route(web::delete().to(delete_subscription))
                .default_service(web::to(method_not_allowed)),
        )
        .at(&p("/{id}/pause"), web::post().to(pause_subscription))
        .at(&p("/{id}/resume"), web::post().to(resume_subscription))
        .at(&p("/{id}/rotate-secret"), web::post().to(rotate_secret));
    }
}

/// The live subscription `{id}` names, when the tenant reaches it (else `404`).
pub async fn reachable(
    state: &AppState,
    tenant: &Tenant,
    req: &HttpRequest,
) -> ApiResult<std::sync::Arc<SubscriptionRow>> {
    let id = path_id(req, "id")?;
    let row = state
        .engine
        .subscription(id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    tenant.check(row.application_id, "subscription")?;
    Ok(row)
}

/// The view of `row` with the adaptive concurrency its owner last recorded.
async fn recorded_view(state: &AppState, row: SubscriptionRow) -> ApiResult<SubscriptionView> {
    let id = row.id;
    let recorded = courier_actors::db::health::concurrency_of(&state.db, &[id]).await?;
    Ok(view(state, row, None)?.with_concurrency(recorded.get(&id).copied()))
}

/// The API view of a row (headers opened and masked).
fn view(
    state: &AppState,
    row: SubscriptionRow,
    secret: Option<String>,
) -> ApiResult<SubscriptionView> {
    let headers = row
        .extra_headers(state.engine.keyring())
        .map_err(ApiError::internal)?;
    Ok(SubscriptionView::new(
        row,
        &headers,
        &state.settings.credential_headers,
        secret,
    ))
}

/// Create a subscription.
#[utoipa::path(post, path = "/subscriptions/", tag = "subscriptions", request_body = SubscriptionBody,
    security(("api_key" = [])),
    responses((status = 201, description = "Created; the only answer (with rotate-secret) that shows the secret", body = SubscriptionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn create_subscription(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: crate::routes::JsonBody<SubscriptionBody>,
) -> ApiResult<HttpResponse> {
    let mut body = body.into_inner();
    let given = body.secret.take();
    let spec = spec_from_body(body)?;
    check_catalog(&state, &spec).await?;
    let (secret, requires_signature) = match given {
        Some(s) => (SigningSecret::parse(&s)?, true),
        None => (SigningSecret::generate(), false),
    };
    let row = state
        .engine
        .create_subscription(tenant.app_id, &spec, &secret, requires_signature)
        .await?;
    tracing::info!(id = %row.id, app = %row.application_id, "subscription created");
    let view = view(&state, row, Some(secret.expose().to_owned()))?;
    Ok(HttpResponse::Created().json(view))
}

/// With `COURIER_ENFORCE_CATALOG`, every named event type must be in the catalog.
async fn check_catalog(
    state: &AppState,
    spec: &courier_actors::db::subscriptions::SubscriptionSpec,
) -> ApiResult<()> {
    let patterns = spec.event_types.to_strings();
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    state
        .catalog
        .check_patterns(&refs)
        .await
        .map_err(ApiError::Validation)
}

/// List subscriptions, newest first.
#[utoipa::path(get, path = "/subscriptions/", tag = "subscriptions", params(ListQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "A page; `X-Next-Cursor` names the next one", body = Vec<SubscriptionView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list_subscriptions(
    tenant: Tenant,
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
    let rows = db::list(
        &state.db,
        tenant.app_id,
        status,
        page.before,
        page.limit + 1,
    )
    .await?;
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    let recorded = courier_actors::db::health::concurrency_of(&state.db, &ids).await?;
    let views = rows
        .into_iter()
        .map(|r| {
            let c = recorded.get(&r.id).copied();
            view(&state, r, None).map(|v| v.with_concurrency(c))
        })
        .collect::<ApiResult<Vec<SubscriptionView>>>()?;
    Ok(page_response(&req, views, page, |v| v.id))
}

/// Get one subscription.
#[utoipa::path(get, path = "/subscriptions/{id}", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_subscription(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = reachable(&state, &tenant, &req).await?.id;
    let row = db::get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    Ok(HttpResponse::Ok().json(recorded_view(&state, row).await?))
}

/// Replace a subscription (every field; absent optional fields take their defaults).
#[utoipa::path(put, path = "/subscriptions/{id}", tag = "subscriptions", request_body = SubscriptionBody,
    security(("api_key" = [])), params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn replace_subscription(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::routes::JsonBody<SubscriptionBody>,
) -> ApiResult<HttpResponse> {
    let id = reachable(&state, &tenant, &req).await?.id;
    let body = body.into_inner();
    if body.secret.is_some() {
        return Err(ApiError::Validation(
            "the secret cannot be set here: use POST /subscriptions/{id}/rotate-secret".into(),
        ));
    }
    let mut spec = spec_from_body(body)?;
    check_catalog(&state, &spec).await?;
    let rules = state.settings.credential_headers.clone();
    let row = state
        .engine
        .update_subscription(id, move |old| {
            let merged = keep_masked(&old.headers, spec.headers.as_map().clone(), &rules);
            spec.headers = courier_actors::headers::ExtraHeaders::from_stored(merged);
            Ok(spec)
        })
        .await?;
    Ok(HttpResponse::Ok().json(recorded_view(&state, row).await?))
}

/// Update some fields of a subscription.
#[utoipa::path(patch, path = "/subscriptions/{id}", tag = "subscriptions", request_body = SubscriptionPatch,
    security(("api_key" = [])), params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patch_subscription(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::routes::JsonBody<SubscriptionPatch>,
) -> ApiResult<HttpResponse> {
    let id = reachable(&state, &tenant, &req).await?.id;
    let patch = body.into_inner();
    if patch.secret.is_some() {
        return Err(ApiError::Validation(
            "the secret cannot be set here: use POST /subscriptions/{id}/rotate-secret".into(),
        ));
    }
    if let Some(Some(types)) = &patch.event_types {
        let refs: Vec<&str> = types.iter().map(String::as_str).collect();
        state
            .catalog
            .check_patterns(&refs)
            .await
            .map_err(ApiError::Validation)?;
    }
    let rules = state.settings.credential_headers.clone();
    let row = state
        .engine
        .update_subscription(id, move |current| merge_patch(current, patch, &rules))
        .await?;
    Ok(HttpResponse::Ok().json(recorded_view(&state, row).await?))
}

/// Delete a subscription: its pending deliveries stop; its log stays until retention.
#[utoipa::path(delete, path = "/subscriptions/{id}", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_subscription(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = reachable(&state, &tenant, &req).await?.id;
    state.engine.delete_subscription(id).await?;
    tracing::info!(id = %id, "subscription deleted");
    Ok(HttpResponse::NoContent().finish())
}

async fn set_status(
    state: &AppState,
    tenant: &Tenant,
    req: &HttpRequest,
    status: SubscriptionStatus,
) -> ApiResult<HttpResponse> {
    let id = reachable(state, tenant, req).await?.id;
    let row = state.engine.set_status(id, status).await?;
    tracing::info!(%id, status = %status, "subscription status changed");
    Ok(HttpResponse::Ok().json(recorded_view(state, row).await?))
}

/// Pause: new deliveries are held (kept, not dropped) until resume.
#[utoipa::path(post, path = "/subscriptions/{id}/pause", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn pause_subscription(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    set_status(&state, &tenant, &req, SubscriptionStatus::Paused).await
}

/// Resume (also re-enables a disabled subscription): held deliveries drain.
#[utoipa::path(post, path = "/subscriptions/{id}/resume", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn resume_subscription(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    set_status(&state, &tenant, &req, SubscriptionStatus::Active).await
}

/// Rotate the signing secret; the old one keeps signing beside it for `COURIER_SECRET_OVERLAP`.
#[utoipa::path(post, path = "/subscriptions/{id}/rotate-secret", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")), request_body(content = Option<RotateBody>),
    responses((status = 200, description = "The subscription with its new secret", body = SubscriptionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_secret(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let id = reachable(&state, &tenant, &req).await?.id;
    let body: RotateBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        crate::routes::parse_json(&body)?
    };
    let secret = match body.secret {
        Some(s) => SigningSecret::parse(&s)?,
        None => SigningSecret::generate(),
    };
    let overlap = chrono::Duration::from_std(state.settings.secret_overlap)
        .unwrap_or(chrono::Duration::hours(24));
    let row = state
        .engine
        .rotate_secret(id, &secret, Utc::now() + overlap)
        .await?;
    tracing::info!(%id, "subscription secret rotated");
    Ok(HttpResponse::Ok().json(view(&state, row, Some(secret.expose().to_owned()))?))
}
