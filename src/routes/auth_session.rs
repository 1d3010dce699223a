//! Browser sessions: `POST /auth/session` exchanges an API key (in the `Authorization`
//! header, never the URL) for the `courier_session` cookie — `HttpOnly; SameSite=Strict;
//! Path=/`, `Secure` over https or with `COURIER_SECURE_COOKIES`, lasting
//! `COURIER_SESSION_TTL` from login (default 8 h, not extended by use). The dashboard and
//! `GET /stream` use the cookie; cookie-authenticated state changes need the
//! `X-Courier-CSRF` header (see `crate::auth`). `GET /auth/session` says who the caller is;
//! `DELETE /auth/session` logs out.
//!
//! Must never happen: a session made from a session (the key must be in the header); a
//! cookie readable by scripts or sent cross-site.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{
    Principal, PrincipalKind, SESSION_COOKIE, bearer_token, check_csrf, session_cookie,
};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/auth/session")
            .route(web::post().to(create_session))
            .route(web::get().to(current_session))
            .route(web::delete().to(end_session))
            .default_service(web::to(crate::routes::method_not_allowed)),
    );
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"kind": "application_key", "scope": "application",
    "application_id": "01938a6e-7d1c-7b3e-9f00-6a2b1c3d4e5f", "key_id": "01938a6e-7d1c-7b3e-9f00-a1b2c3d4e5f6",
    "expires_at": "2026-12-01T18:00:00Z"}))]
pub struct SessionView {
    /// `bootstrap` (COURIER_API_KEY), `admin_key`, `application_key` or `portal`.
    pub kind: &'static str,
    /// `admin` or `application`.
    pub scope: &'static str,
    pub application_id: Option<Uuid>,
    /// The named key behind it (`null` for the bootstrap key).
    pub key_id: Option<Uuid>,
    /// When the session ends (`null` when the caller used a bearer key, not a session).
    pub expires_at: Option<DateTime<Utc>>,
}

impl SessionView {
    fn of(p: &Principal) -> Self {
        Self {
            kind: match p.kind() {
                PrincipalKind::Bootstrap => "bootstrap",
                PrincipalKind::AdminKey => "admin_key",
                PrincipalKind::ApplicationKey => "application_key",
                PrincipalKind::Portal => "portal",
            },
            scope: p.scope().as_str(),
            application_id: p.application_id(),
            key_id: p.key_id(),
            expires_at: p.grant().session_expires_at,
        }
    }
}

fn cookie(req: &HttpRequest, state: &AppState, value: &str, max_age: i64) -> String {
    let secure = state.settings.secure_cookies || req.connection_info().scheme() == "https";
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Exchange the API key in `Authorization: Bearer` for a session cookie.
#[utoipa::path(post, path = "/auth/session", tag = "keys", security(("api_key" = [])),
    responses((status = 201, description = "Session started; the cookie is in `Set-Cookie`", body = SessionView),
        (status = 401, description = "No bearer key, or not a valid one (a session cookie is not accepted here)", body = ErrorBody),
        (status = 503, description = "Postgres is unavailable", body = ErrorBody)))]
pub async fn create_session(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let token = bearer_token(&req).ok_or(ApiError::Unauthorized)?;
    let grant = state
        .keys
        .authenticate_bearer(token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let (session, expires_at) = state
        .keys
        .create_session(&grant, state.settings.session_ttl)
        .await?;
    let mut principal_grant = grant;
    principal_grant.session_expires_at = Some(expires_at);
    let view = SessionView::of(&Principal::new(principal_grant));
    let max_age = i64::try_from(state.settings.session_ttl.as_secs()).unwrap_or(i64::MAX);
    Ok(HttpResponse::Created()
        .insert_header((header::SET_COOKIE, cookie(&req, &state, &session, max_age)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// Who the caller is (by bearer key or session cookie).
#[utoipa::path(get, path = "/auth/session", tag = "keys", security(("api_key" = [])),
    responses((status = 200, description = "The caller", body = SessionView),
        (status = 401, description = "No valid credentials, or the session ended", body = ErrorBody)))]
pub async fn current_session(principal: Principal) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SessionView::of(&principal)))
}

/// Log out: the session ends on every node within a second and the cookie is cleared.
#[utoipa::path(delete, path = "/auth/session", tag = "keys",
    responses((status = 204, description = "Logged out (also when there was no session)"),
        (status = 403, description = "A session cookie without the X-Courier-CSRF header, or from another origin", body = ErrorBody)))]
pub async fn end_session(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if let Some(token) = session_cookie(&req) {
        check_csrf(&req)?;
        state.keys.end_session(&token).await?;
    }
    Ok(HttpResponse::NoContent()
        .insert_header((header::SET_COOKIE, cookie(&req, &state, "", 0)))
        .finish())
}
