//! Applications (tenants): `POST/GET /applications`, `GET/PATCH/DELETE /applications/{app}`
//! where `{app}` is the id or the `uid`. Writes and the list need an admin principal; an
//! application principal may read its own application and gets `404` for any other.
//!
//! [`resolve`] is what every `/applications/{app}/...` route calls first: it turns `{app}`
//! into the live application the principal may act on, or `404`.
//!
//! Must never happen: a built-in application (`default`, `courier-ops`) deleted or renamed;
//! a deleted application whose keys still work.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use courier_actors::db::applications::{
    self as db, ApplicationRow, ApplicationSpec, is_builtin, is_unique_violation,
};
use courier_actors::db::{api_keys, portal_links};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{ApiKey, Principal};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::fields::{self, double_option};
use crate::routes::{Page, PageQuery, method_not_allowed, page_response};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/applications")
            .route(web::post().to(create_application))
            .route(web::get().to(list_applications))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/applications/{app}")
            .route(web::get().to(get_application))
            .route(web::patch().to(patch_application))
            .route(web::delete().to(delete_application))
            .default_service(web::to(method_not_allowed)),
    );
}

/// An application as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01938a6e-7d1c-7b3e-9f00-6a2b1c3d4e5f", "uid": "acme", "name": "Acme Ltd",
    "metadata": {"plan": "pro"}, "retention": "30d", "retention_secs": 2592000, "builtin": false,
    "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z"}))]
pub struct ApplicationView {
    pub id: Uuid,
    /// The producer's own id for its customer.
    pub uid: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, Value>,
    /// Delivery-log retention for this application (`null`: `COURIER_RETENTION`).
    pub retention: Option<String>,
    pub retention_secs: Option<i64>,
    /// `default` and `courier-ops` are built in and cannot be deleted.
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ApplicationRow> for ApplicationView {
    fn from(row: ApplicationRow) -> Self {
        Self {
            builtin: is_builtin(row.id),
            retention: row.retention_secs.map(fields::format_secs),
            retention_secs: row.retention_secs,
            id: row.id,
            uid: row.uid,
            name: row.name,
            metadata: row.metadata.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Body of `POST /applications`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"uid": "acme", "name": "Acme Ltd", "metadata": {"plan": "pro"}, "retention": "30d"}))]
pub struct CreateApplication {
    /// Unique among live applications: `[A-Za-z0-9._-]{1,64}`.
    pub uid: String,
    /// 1 to 256 characters, no control characters.
    pub name: String,
    /// A JSON object (at most 16 KiB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// A duration (`"30d"`, `"12h"`) or seconds, 1m to 3650d.
    #[schema(value_type = Option<String>)]
    pub retention: Option<Value>,
}

/// Body of `PATCH /applications/{app}`: only the fields given change; `null` clears
/// `metadata` (to `{}`) and `retention` (back to the global one).
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchApplication {
    pub uid: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<Value>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub retention: Option<Option<Value>>,
}

const MAX_NAME: usize = 256;

/// The live application `key` (id or uid) names, if `principal` may act on it; `404`
/// otherwise, the same answer whether it exists or not.
pub async fn resolve(
    state: &AppState,
    principal: &Principal,
    key: &str,
) -> ApiResult<ApplicationRow> {
    let row = find(state, key)
        .await?
        .ok_or(ApiError::NotFound("application"))?;
    principal.require_access(row.id)?;
    Ok(row)
}

/// The live application `key` (id or uid) names, whoever asks; `None` also for keys that
/// cannot be an id or a uid.
pub async fn find(state: &AppState, key: &str) -> ApiResult<Option<ApplicationRow>> {
    if !fields::could_name_application(key) {
        return Ok(None);
    }
    Ok(db::find(&state.db, key).await?)
}

/// Create an application.
#[utoipa::path(post, path = "/applications", tag = "applications", request_body = CreateApplication,
    security(("api_key" = [])),
    responses((status = 201, description = "Created", body = ApplicationView),
        (status = 400, description = "A field is invalid; the message names it", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "An application-scoped key or session", body = ErrorBody),
        (status = 409, description = "A live application already has this uid", body = ErrorBody),
        (status = 413, description = "The body is over COURIER_MAX_BODY", body = ErrorBody)))]
pub async fn create_application(
    _key: ApiKey,
    state: web::Data<AppState>,
    body: web::Json<CreateApplication>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let spec = ApplicationSpec {
        uid: fields::uid(&body.uid)?,
        name: fields::text("name", &body.name, MAX_NAME, true)?,
        metadata: body
            .metadata
            .map(fields::metadata)
            .transpose()?
            .unwrap_or_default(),
        retention_secs: body.retention.as_ref().map(fields::retention).transpose()?,
    };
    crate::routes::portal::brand::check_metadata(&spec.metadata)?;
    let row = db::insert(&state.db, &spec)
        .await
        .map_err(|e| uid_conflict(e, &spec.uid))?;
    tracing::info!(id = %row.id, uid = %row.uid, "application created");
    Ok(HttpResponse::Created().json(ApplicationView::from(row)))
}

fn uid_conflict(e: sqlx::Error, uid: &str) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::Conflict(format!("an application with uid {uid:?} already exists"))
    } else {
        e.into()
    }
}

/// List applications, newest first.
#[utoipa::path(get, path = "/applications", tag = "applications", params(PageQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "A page; `X-Next-Cursor` names the next one", body = Vec<ApplicationView>),
        (status = 400, description = "A bad `limit` or `cursor`", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "An application-scoped key or session", body = ErrorBody)))]
pub async fn list_applications(
    _key: ApiKey,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(query.limit, query.cursor.as_deref(), 50)?;
    let rows = db::list(&state.db, page.limit + 1, page.before).await?;
    let views: Vec<ApplicationView> = rows.into_iter().map(ApplicationView::from).collect();
    Ok(page_response(&req, views, page, |v| v.id))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AppPath {
    /// The application's id or uid.
    pub app: String,
}

/// Get one application (an application key may read its own).
#[utoipa::path(get, path = "/applications/{app}", tag = "applications", params(AppPath),
    security(("api_key" = [])),
    responses((status = 200, description = "The application", body = ApplicationView),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 404, description = "No such live application, or another application's", body = ErrorBody)))]
pub async fn get_application(
    principal: Principal,
    state: web::Data<AppState>,
    path: web::Path<AppPath>,
) -> ApiResult<HttpResponse> {
    let row = resolve(&state, &principal, &path.app).await?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(row)))
}

/// Change an application's uid, name, metadata or retention.
#[utoipa::path(patch, path = "/applications/{app}", tag = "applications", params(AppPath),
    request_body = PatchApplication, security(("api_key" = [])),
    responses((status = 200, description = "The changed application", body = ApplicationView),
        (status = 400, description = "A field is invalid, or a built-in application's uid would change", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "An application-scoped key or session", body = ErrorBody),
        (status = 404, description = "No such live application", body = ErrorBody),
        (status = 409, description = "Another live application has the new uid", body = ErrorBody)))]
pub async fn patch_application(
    ApiKey(principal): ApiKey,
    state: web::Data<AppState>,
    path: web::Path<AppPath>,
    body: web::Json<PatchApplication>,
) -> ApiResult<HttpResponse> {
    let row = resolve(&state, &principal, &path.app).await?;
    let spec = patched(&row, body.into_inner())?;
    let updated = db::update(&state.db, row.id, &spec)
        .await
        .map_err(|e| uid_conflict(e, &spec.uid))?
        .ok_or(ApiError::NotFound("application"))?;
    Ok(HttpResponse::Ok().json(ApplicationView::from(updated)))
}

fn patched(row: &ApplicationRow, body: PatchApplication) -> ApiResult<ApplicationSpec> {
    let mut spec = ApplicationSpec::from_row(row);
    if let Some(uid) = body.uid {
        let uid = fields::uid(&uid)?;
        if is_builtin(row.id) && uid != row.uid {
            return Err(ApiError::Validation(format!(
                "uid: the built-in application {:?} keeps its uid",
                row.uid
            )));
        }
        spec.uid = uid;
    }
    if let Some(name) = body.name {
        spec.name = fields::text("name", &name, MAX_NAME, true)?;
    }
    if let Some(metadata) = body.metadata {
        spec.metadata = metadata
            .map(fields::metadata)
            .transpose()?
            .unwrap_or_default();
        crate::routes::portal::brand::check_metadata(&spec.metadata)?;
    }
    if let Some(retention) = body.retention {
        spec.retention_secs = retention.as_ref().map(fields::retention).transpose()?;
    }
    Ok(spec)
}

/// Delete an application: it disappears from every read, its keys and portal links are
/// revoked at once (with their sessions) and its subscriptions are deleted (soft).
#[utoipa::path(delete, path = "/applications/{app}", tag = "applications", params(AppPath),
    security(("api_key" = [])),
    responses((status = 204, description = "Deleted"),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "An application-scoped key or session", body = ErrorBody),
        (status = 404, description = "No such live application", body = ErrorBody),
        (status = 409, description = "`default` and `courier-ops` are built in and cannot be deleted", body = ErrorBody)))]
pub async fn delete_application(
    ApiKey(principal): ApiKey,
    state: web::Data<AppState>,
    path: web::Path<AppPath>,
) -> ApiResult<HttpResponse> {
    let row = resolve(&state, &principal, &path.app).await?;
    if is_builtin(row.id) {
        return Err(ApiError::Conflict(format!(
            "the built-in application {:?} cannot be deleted",
            row.uid
        )));
    }
    let mut tx = state.db.begin().await?;
    if !db::soft_delete(&mut tx, row.id).await? {
        return Err(ApiError::NotFound("application"));
    }
    let revoked = api_keys::revoke_for_application(&mut tx, row.id).await?;
    let links = portal_links::revoke_for_application(&mut tx, row.id).await?;
    tx.commit().await?;
    state.keys.forget_keys(&revoked);
    state.keys.forget_portal_links(&links);
    delete_subscriptions_of_application(&state, row.id).await?;
    tracing::info!(id = %row.id, uid = %row.uid, keys_revoked = revoked.len(), "application deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes (soft) every subscription of a deleted application the way
/// `DELETE /subscriptions/{id}` does: their pending deliveries end, their log stays.
pub async fn delete_subscriptions_of_application(
    state: &AppState,
    application_id: Uuid,
) -> ApiResult<()> {
    let ids =
        courier_actors::db::subscriptions::ids_of_application(&state.db, application_id).await?;
    for id in ids {
        match state.engine.delete_subscription(id).await {
            Ok(()) | Err(courier_actors::lifecycle::LifecycleError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
