//! Named API keys: `POST /api-keys`, `GET /api-keys`, `DELETE /api-keys/{id}`, all for
//! admin principals only (an application key gets `403`). The token is in the create
//! answer only; lists show its `prefix` (`ck_<12 hex>`) and id. Revocation takes effect on
//! every node within a second (see `courier_actors::access`).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use courier_actors::access::Scope;
use courier_actors::db::api_keys::{self as db, ApiKeyRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::ApiKey;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::{Page, RouteExt, method_not_allowed, page_response};
use crate::routes::{applications, fields};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api-keys")
            .route(web::post().to(create_api_key))
            .route(web::get().to(list_api_keys))
            .default_service(web::to(method_not_allowed)),
    )
    .at("/api-keys/{id}", web::delete().to(revoke_api_key));
}

/// A key as listed (never its token).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01938a6e-7d1c-7b3e-9f00-a1b2c3d4e5f6", "name": "acme backend",
    "prefix": "ck_a1b2c3d4e5f6", "scope": "application", "application_id": "01938a6e-7d1c-7b3e-9f00-6a2b1c3d4e5f",
    "created_at": "2026-12-01T10:00:00Z", "last_used_at": null}))]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The token's visible start, to tell keys apart.
    pub prefix: String,
    /// `admin` (everything) or `application` (only `application_id`'s routes).
    pub scope: String,
    pub application_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// Updated at most once a minute.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            scope: row.scope,
            application_id: row.application_id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// The answer to `POST /api-keys`: the key's fields and, this once, the key itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    /// `ck_<12 hex>_<43 base64url>`: send it as `Authorization: Bearer <key>`. Shown only
    /// here; Courier keeps only its SHA-256.
    #[schema(example = "ck_a1b2c3d4e5f6_Jx0b6b3Yp7gk2hA0o1Y5o9S3bW4q8m2uVv1tN6cR7dE")]
    pub key: String,
}

/// Body of `POST /api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "acme backend", "scope": "application", "application": "acme"}))]
pub struct CreateApiKey {
    /// 1 to 128 characters, no control characters.
    pub name: String,
    /// `admin` or `application`.
    pub scope: String,
    /// With `scope: application`: the application's id or uid (and only then).
    pub application: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct KeyListQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this application's keys (id or uid).
    pub application: Option<String>,
}

async fn scope_of(state: &AppState, body: &CreateApiKey) -> ApiResult<Scope> {
    match (body.scope.as_str(), body.application.as_deref()) {
        ("admin", None) => Ok(Scope::Admin),
        ("admin", Some(_)) => Err(ApiError::Validation(
            "application: an admin key is not tied to an application; leave it out".into(),
        )),
        ("application", None) => Err(ApiError::Validation(
            "application: a key with scope \"application\" needs the application's id or uid"
                .into(),
        )),
        ("application", Some(key)) => applications::find(state, key)
            .await?
            .map(|app| Scope::Application(app.id))
            .ok_or_else(|| {
                ApiError::Validation(format!("application: no live application {key:?}"))
            }),
        (other, _) => Err(ApiError::Validation(format!(
            "scope: {other:?} is not \"admin\" or \"application\""
        ))),
    }
}

/// Create a named API key; the answer is the only place its token ever appears.
#[utoipa::path(post, path = "/api-keys", tag = "keys", request_body = CreateApiKey,
    security(("api_key" = [])),
    responses((status = 201, description = "Created; `key` is shown this once", body = CreatedApiKey),
        (status = 400, description = "A field is invalid; the message names it", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "An application-scoped key or session", body = ErrorBody),
        (status = 413, description = "The body is over COURIER_MAX_BODY", body = ErrorBody)))]
pub async fn create_api_key(
    _key: ApiKey,
    state: web::Data<AppState>,
    body: web::Json<CreateApiKey>,
) -> ApiResult<HttpResponse> {
    let name = fields::text("name", &body.name, 128, true)?;
    let scope = scope_of(&state, &body).await?;
    let (row, token) = state.keys.create_key(&name, scope).await?;
    tracing::info!(id = %row.id, scope = %row.scope, "api key created");
    let answer = CreatedApiKey {
        view: ApiKeyView::from(row),
        key: token,
    };
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(answer))
}

/// List live API keys, newest first.
#[utoipa::path(get, path = "/api-keys", tag = "keys", params(KeyListQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "A page; `X-Next-Cursor` names the next one", body = Vec<ApiKeyView>),
        (status = 400, description = "A bad `limit`, `cursor` or `application`", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "An application-scoped key or session", body = ErrorBody)))]
pub async fn list_api_keys(
    _key: ApiKey,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<KeyListQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(query.limit, query.cursor.as_deref(), 50)?;
    let application = match query.application.as_deref().filter(|a| !a.is_empty()) {
        Some(key) => Some(
            applications::find(&state, key)
                .await?
                .ok_or_else(|| {
                    ApiError::BadQuery(format!("application: no live application {key:?}"))
                })?
                .id,
        ),
        None => None,
    };
    let rows = db::list(&state.db, page.limit + 1, page.before, application).await?;
    let views: Vec<ApiKeyView> = rows.into_iter().map(ApiKeyView::from).collect();
    Ok(page_response(&req, views, page, |v| v.id))
}

/// Revoke an API key: it and its sessions stop working on every node within a second.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "keys", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked"),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "An application-scoped key or session", body = ErrorBody),
        (status = 404, description = "No live key with this id", body = ErrorBody)))]
pub async fn revoke_api_key(
    _key: ApiKey,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    if !state.keys.revoke_key(*id).await? {
        return Err(ApiError::NotFound("api key"));
    }
    tracing::info!(id = %*id, "api key revoked");
    Ok(HttpResponse::NoContent().finish())
}
