//! Portal sessions: `POST /portal/session` opens a portal link (once) and answers a bearer
//! session token (`cps_…`) with what the portal shows about itself; `GET /portal/session`
//! answers the same for the session's bearer; `DELETE /portal/session` ends it.
//!
//! Why a bearer token and not a cookie: the portal is meant to live in an iframe on the
//! producer's site. A cookie there is a third-party cookie: `SameSite=Strict`/`Lax` ones are
//! not sent in a cross-site frame, and `SameSite=None` ones are refused by browsers that
//! block third-party cookies (Safari, Firefox's strict mode, Chrome when the user chose
//! so). A token the page keeps in memory works embedded or not, and no other site can make
//! a browser send it, so the portal needs no CSRF defence.
//!
//! Must never happen: the session token in a URL, a log line or any answer but the one that
//! opened the link.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use courier_actors::access::Grant;
use courier_actors::db::applications;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::brand::{Brand, brand_of};
use crate::auth::{Principal, bearer_token};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::{JsonBody, method_not_allowed};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/portal/session")
            .route(web::post().to(open_session))
            .route(web::get().to(current_session))
            .route(web::delete().to(end_session))
            .default_service(web::to(method_not_allowed)),
    );
}

/// Body of `POST /portal/session`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"token": "cpl_…"}))]
pub struct OpenPortalSession {
    /// The `token` of the portal link (the `token` query parameter of its `url`).
    pub token: String,
}

/// The application a portal session belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalApplication {
    pub id: Uuid,
    pub uid: String,
    pub name: String,
}

/// What the portal knows about its session.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalSessionView {
    /// The bearer token of the portal's API calls: only in the answer that opened the link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    pub application: PortalApplication,
    /// Only reads are allowed (every change is `403 read_only`).
    pub read_only: bool,
    /// When the session ends (the link's expiry).
    pub expires_at: DateTime<Utc>,
    pub brand: Brand,
    /// How long a rotated-out secret keeps signing beside the new one (seconds).
    pub secret_overlap_secs: u64,
}

async fn view(
    state: &AppState,
    grant: &Grant,
    session_token: Option<String>,
) -> ApiResult<PortalSessionView> {
    let (Some(app_id), Some(portal), Some(expires_at)) = (
        grant.scope.application_id(),
        grant.portal,
        grant.session_expires_at,
    ) else {
        return Err(ApiError::Forbidden(
            "this route answers only a consumer-portal session".into(),
        ));
    };
    let app = applications::find(&state.db, &app_id.to_string())
        .await?
        .ok_or(ApiError::PortalSessionEnded)?;
    let brand = brand_of(&app.metadata.0, &app.name, &state.settings.portal.brand);
    Ok(PortalSessionView {
        session_token,
        application: PortalApplication {
            id: app.id,
            uid: app.uid,
            name: app.name,
        },
        read_only: portal.read_only,
        expires_at,
        brand,
        secret_overlap_secs: state.settings.secret_overlap.as_secs(),
    })
}

/// Open a portal link: once, before it expires, unless revoked.
#[utoipa::path(post, path = "/portal/session", operation_id = "open_portal_session", tag = "portal", request_body = OpenPortalSession,
    responses((status = 201, description = "Opened; `session_token` is the bearer of every portal call", body = PortalSessionView),
        (status = 400, description = "The body is not `{\"token\": \"…\"}`", body = ErrorBody),
        (status = 401, description = "The link was used, expired, was revoked, or never existed", body = ErrorBody)))]
pub async fn open_session(
    state: web::Data<AppState>,
    body: JsonBody<OpenPortalSession>,
) -> ApiResult<HttpResponse> {
    let token = body.into_inner().token;
    let (session, grant) = state
        .keys
        .open_portal_link(token.trim())
        .await?
        .ok_or(ApiError::PortalLinkInvalid)?;
    let view = view(&state, &grant, Some(session)).await?;
    if let Some(p) = grant.portal {
        tracing::info!(link = %p.link_id, app = %view.application.id, "portal link opened");
    }
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// The portal session of the bearer token: its application, brand and limits.
#[utoipa::path(get, path = "/portal/session", operation_id = "current_portal_session", tag = "portal", security(("portal_session" = [])),
    responses((status = 200, description = "The session", body = PortalSessionView),
        (status = 401, description = "No session, or it ended", body = ErrorBody),
        (status = 403, description = "Credentials that are not a portal session", body = ErrorBody)))]
pub async fn current_session(
    principal: Principal,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let view = view(&state, principal.grant(), None).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// End the portal session of the bearer token (also when there was none).
#[utoipa::path(delete, path = "/portal/session", operation_id = "end_portal_session", tag = "portal", security(("portal_session" = [])),
    responses((status = 204, description = "Ended")))]
pub async fn end_session(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if let Some(token) = bearer_token(&req) {
        state.keys.end_portal_session(token).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}
