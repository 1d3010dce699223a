//! The consumer portal's server side.
//!
//! - Portal links (this module): `POST/GET /applications/{app}/portal-links` and `DELETE
//!   /applications/{app}/portal-links/{id}`, for an admin or that application's key. A link
//!   is `{url, token, expires_at}`: the token is shown once, usable once within `ttl`
//!   (default 1 h, at most 7 d), optionally `read_only`.
//! - Portal sessions ([`session`]): the portal page exchanges its link for a bearer session
//!   token, once.
//! - What a portal session may reach ([`guard`]), and the brand and embedding settings
//!   ([`brand`]). The pages themselves (with `frame-ancestors`) are served by
//!   `routes::dashboard`.
//!
//! Must never happen: a link token or session token stored or logged in clear; a portal
//! session creating, listing or revoking links.

pub mod brand;
pub mod guard;
pub mod session;

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use courier_actors::db::portal_links::{self, PortalLinkRow};
use courier_actors::units::parse_duration;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub use self::brand::{Brand, PortalSettings};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::applications::resolve;
use crate::routes::{Page, PageQuery, RouteExt, method_not_allowed, page_response, parse_json};
use crate::state::AppState;
use crate::tenant::path_id;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/applications/{app}/portal-links")
            .route(web::post().to(create_link))
            .route(web::get().to(list_links))
            .default_service(web::to(method_not_allowed)),
    )
    .at(
        "/applications/{app}/portal-links/{id}",
        web::delete().to(revoke_link),
    )
    .configure(session::configure);
}

const DEFAULT_TTL: Duration = Duration::from_secs(3600);
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(7 * 86_400);

/// Body of `POST /applications/{app}/portal-links` (the body may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"ttl": "2h", "read_only": false}))]
pub struct CreatePortalLink {
    /// How long the link can be opened, and how long the session it opens lasts: a duration
    /// (`"2h"`) or seconds, 1m to 7d (default 1h).
    #[schema(value_type = Option<String>)]
    pub ttl: Option<Value>,
    /// Only reads: the portal shows endpoints and deliveries but changes nothing.
    #[serde(default)]
    pub read_only: bool,
}

/// A new link: the only answer that shows its token.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01938a6e-7d1c-7b3e-9f00-6a2b1c3d4e5f",
    "application_id": "01938a6e-7d1c-7b3e-9f00-000000000001",
    "url": "https://courier.example.com/portal?token=cpl_…", "token": "cpl_…",
    "expires_at": "2026-12-03T11:00:00Z", "read_only": false}))]
pub struct PortalLinkCreated {
    pub id: Uuid,
    pub application_id: Uuid,
    /// The portal opened with this link: hand it to the customer, or put it in an iframe.
    pub url: String,
    /// `cpl_` and 43 characters; usable once.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub read_only: bool,
}

/// A link as listed (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalLinkView {
    pub id: Uuid,
    pub application_id: Uuid,
    pub read_only: bool,
    /// The named key that made it (`null` for COURIER_API_KEY).
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When the link was opened (its session lasts until `expires_at`); `null` while unused.
    pub used_at: Option<DateTime<Utc>>,
}

impl From<PortalLinkRow> for PortalLinkView {
    fn from(r: PortalLinkRow) -> Self {
        Self {
            id: r.id,
            application_id: r.application_id,
            read_only: r.read_only,
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LinkAppPath {
    /// The application's id or uid.
    pub app: String,
}

fn ttl_of(value: Option<&Value>) -> ApiResult<Duration> {
    let bad = || {
        ApiError::Validation(
            "ttl must be a duration like \"2h\" or a number of seconds, between 1m and 7d".into(),
        )
    };
    let ttl = match value {
        None | Some(Value::Null) => return Ok(DEFAULT_TTL),
        Some(Value::String(s)) => parse_duration(s).map_err(|_| bad())?,
        Some(Value::Number(n)) => Duration::from_secs(n.as_u64().ok_or_else(bad)?),
        Some(_) => return Err(bad()),
    };
    if (MIN_TTL..=MAX_TTL).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(bad())
    }
}

/// The portal's address on this server, as the request reached it.
fn portal_url(req: &HttpRequest, token: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}/portal?token={token}", info.scheme(), info.host())
}

/// Create a one-time link to the application's consumer portal.
#[utoipa::path(post, path = "/applications/{app}/portal-links", tag = "portal", params(LinkAppPath),
    request_body(content = Option<CreatePortalLink>), security(("api_key" = [])),
    responses((status = 201, description = "Created; the only answer that shows the token", body = PortalLinkCreated),
        (status = 400, description = "A bad `ttl` or body", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "A portal session", body = ErrorBody),
        (status = 404, description = "No such application, or not this principal's", body = ErrorBody)))]
pub async fn create_link(
    principal: Principal,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<LinkAppPath>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let app = resolve(&state, &principal, &path.app).await?;
    let body: CreatePortalLink = if body.iter().all(u8::is_ascii_whitespace) {
        CreatePortalLink::default()
    } else {
        parse_json(&body)?
    };
    let ttl = ttl_of(body.ttl.as_ref())?;
    let (row, token) = state
        .keys
        .create_portal_link(app.id, body.read_only, ttl, principal.key_id())
        .await?;
    tracing::info!(link = %row.id, app = %app.id, read_only = row.read_only, "portal link created");
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(PortalLinkCreated {
            url: portal_url(&req, &token),
            id: row.id,
            application_id: row.application_id,
            expires_at: row.expires_at,
            read_only: row.read_only,
            token,
        }))
}

/// The application's links that still grant access (not revoked, not expired), newest first.
#[utoipa::path(get, path = "/applications/{app}/portal-links", tag = "portal", params(LinkAppPath, PageQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "A page; `X-Next-Cursor` names the next one", body = Vec<PortalLinkView>),
        (status = 400, description = "A bad `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "A portal session", body = ErrorBody),
        (status = 404, description = "No such application, or not this principal's", body = ErrorBody)))]
pub async fn list_links(
    principal: Principal,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<LinkAppPath>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(query.limit, query.cursor.as_deref(), 50)?;
    let app = resolve(&state, &principal, &path.app).await?;
    let rows = portal_links::list_live(&state.db, app.id, page.limit + 1, page.before).await?;
    let views: Vec<PortalLinkView> = rows.into_iter().map(PortalLinkView::from).collect();
    Ok(page_response(&req, views, page, |v| v.id))
}

/// Revoke a link: it can no longer be opened, and the session it opened ends (on every node
/// within a second).
#[utoipa::path(delete, path = "/applications/{app}/portal-links/{id}", tag = "portal",
    params(("app" = String, Path, description = "Application id or uid"), ("id" = Uuid, Path, description = "Portal link id")),
    security(("api_key" = [])),
    responses((status = 204, description = "Revoked"),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "A portal session", body = ErrorBody),
        (status = 404, description = "No such link of this application", body = ErrorBody)))]
pub async fn revoke_link(
    principal: Principal,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&req, "id")?;
    let key = req.match_info().get("app").unwrap_or_default().to_owned();
    let app = resolve(&state, &principal, &key).await?;
    if !state.keys.revoke_portal_link(app.id, id).await? {
        return Err(ApiError::NotFound("portal link"));
    }
    tracing::info!(link = %id, app = %app.id, "portal link revoked");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ttl_defaults_to_an_hour_and_stays_between_a_minute_and_a_week() {
        assert_eq!(ttl_of(None).unwrap(), DEFAULT_TTL);
        assert_eq!(
            ttl_of(Some(&json!("2h"))).unwrap(),
            Duration::from_secs(7200)
        );
        assert_eq!(ttl_of(Some(&json!(600))).unwrap(), Duration::from_secs(600));
        assert_eq!(ttl_of(Some(&json!("7d"))).unwrap(), MAX_TTL);
        for bad in [
            json!("8d"),
            json!("30s"),
            json!(-5),
            json!(true),
            json!("soon"),
        ] {
            assert!(ttl_of(Some(&bad)).is_err(), "{bad}");
        }
    }
}
