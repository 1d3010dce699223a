//! The event-type catalog: `GET /event-types` (and `/{name}`) for any principal,
//! `POST /event-types` and `PATCH /event-types/{name}` for admins. A schema is compiled
//! before it is stored (a bad one is a `400` naming the problem), and an `example` must
//! match it. After a change this node's catalog reloads at once; others within a second.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use courier_actors::catalog;
use courier_actors::db::applications::is_unique_violation;
use courier_actors::db::event_types::{self as db, EventTypeRow, EventTypeSpec};
use courier_actors::domain::EventType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{ApiKey, Principal};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::fields::{self, double_option};
use crate::routes::{MAX_PAGE, method_not_allowed};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/event-types")
            .route(web::post().to(create_event_type))
            .route(web::get().to(list_event_types))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/event-types/{name}")
            .route(web::get().to(get_event_type))
            .route(web::patch().to(patch_event_type))
            .default_service(web::to(method_not_allowed)),
    );
}

/// An event type in the catalog.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "order.created", "description": "An order was placed",
    "schema": {"type": "object", "required": ["order_id"], "properties": {"order_id": {"type": "string"}}},
    "example": {"order_id": "123"}, "deprecated": false, "version": 1,
    "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z"}))]
pub struct EventTypeView {
    pub name: String,
    pub description: String,
    /// A JSON Schema for the payload (an object or a boolean; `null`: none).
    #[schema(value_type = serde_json::Value)]
    pub schema: Option<Value>,
    /// A sample payload: any JSON value (`null`: none).
    #[schema(value_type = serde_json::Value)]
    pub example: Option<Value>,
    pub deprecated: bool,
    /// Goes up by one on every change.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EventTypeRow> for EventTypeView {
    fn from(row: EventTypeRow) -> Self {
        Self {
            name: row.name,
            description: row.description,
            schema: row.schema.map(|j| j.0),
            example: row.example.map(|j| j.0),
            deprecated: row.deprecated,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Body of `POST /event-types`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "order.created", "description": "An order was placed",
    "schema": {"type": "object", "required": ["order_id"]}, "example": {"order_id": "123"}}))]
pub struct CreateEventType {
    /// A concrete type (no wildcard), e.g. `order.created`.
    pub name: String,
    /// At most 1000 characters, no control characters.
    pub description: Option<String>,
    /// A JSON Schema, an object or a boolean (draft from `$schema`, 2020-12 by default; no
    /// external `$ref`).
    #[schema(value_type = serde_json::Value)]
    pub schema: Option<Value>,
    /// A sample payload, any JSON value; it must match `schema`.
    #[schema(value_type = serde_json::Value)]
    pub example: Option<Value>,
    pub deprecated: Option<bool>,
}

/// Body of `PATCH /event-types/{name}`: only the fields given change; `null` removes the
/// schema or the example.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchEventType {
    pub description: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = serde_json::Value)]
    pub schema: Option<Option<Value>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = serde_json::Value)]
    pub example: Option<Option<Value>>,
    pub deprecated: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CatalogQuery {
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<i64>,
    /// The `X-Next-Cursor` of the previous page (the last name it showed).
    pub cursor: Option<String>,
}

const MAX_DESCRIPTION: usize = 1000;

/// Checks a spec's schema compiles and its example matches it.
fn check_spec(spec: &EventTypeSpec) -> ApiResult<()> {
    if let Some(example) = &spec.example {
        fields::no_nul("example", example)?;
    }
    let Some(schema) = &spec.schema else {
        return Ok(());
    };
    fields::no_nul("schema", schema)?;
    let validator = catalog::compile(schema)
        .map_err(|e| ApiError::Validation(format!("schema is not a valid JSON Schema: {e}")))?;
    if let Some(example) = &spec.example
        && let Some(v) = catalog::first_violation(&validator, example)
    {
        return Err(ApiError::Validation(format!(
            "example does not match schema: {v}"
        )));
    }
    Ok(())
}

/// The stored type `name`; `404` also for names that cannot be a type.
async fn stored(state: &AppState, name: &str) -> ApiResult<EventTypeRow> {
    if EventType::parse(name).is_err() {
        return Err(ApiError::NotFound("event type"));
    }
    db::get(&state.db, name)
        .await?
        .ok_or(ApiError::NotFound("event type"))
}

async fn changed(state: &AppState) {
    if let Err(e) = state.catalog.reload().await {
        tracing::warn!(error = %e, "catalog reload failed; it refreshes itself within a second");
    }
}

/// Add an event type to the catalog.
#[utoipa::path(post, path = "/event-types", tag = "event types", request_body = CreateEventType,
    security(("api_key" = [])),
    responses((status = 201, description = "Created", body = EventTypeView),
        (status = 400, description = "A bad name, description, schema, or an example that does not match the schema", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "An application-scoped key or session", body = ErrorBody),
        (status = 409, description = "The type is already in the catalog", body = ErrorBody),
        (status = 413, description = "The body is over COURIER_MAX_BODY", body = ErrorBody)))]
pub async fn create_event_type(
    _key: ApiKey,
    state: web::Data<AppState>,
    body: web::Json<CreateEventType>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let name =
        EventType::parse(&body.name).map_err(|e| ApiError::Validation(format!("name: {}", e.0)))?;
    let spec = EventTypeSpec {
        name: name.as_str().to_owned(),
        description: fields::text(
            "description",
            body.description.as_deref().unwrap_or(""),
            MAX_DESCRIPTION,
            false,
        )?,
        schema: body.schema.filter(|s| !s.is_null()),
        example: body.example.filter(|e| !e.is_null()),
        deprecated: body.deprecated.unwrap_or(false),
    };
    check_spec(&spec)?;
    let row = db::insert(&state.db, &spec).await.map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::Conflict(format!(
                "event type {:?} is already in the catalog",
                spec.name
            ))
        } else {
            e.into()
        }
    })?;
    changed(&state).await;
    Ok(HttpResponse::Created().json(EventTypeView::from(row)))
}

/// List the catalog in name order.
#[utoipa::path(get, path = "/event-types", tag = "event types", params(CatalogQuery),
    security(("api_key" = [])),
    responses((status = 200, description = "A page; `X-Next-Cursor` names the next one", body = Vec<EventTypeView>),
        (status = 400, description = "A bad `limit`", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody)))]
pub async fn list_event_types(
    _principal: Principal,
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CatalogQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadQuery(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let after = query.cursor.as_deref().filter(|c| !c.is_empty());
    if let Some(c) = after
        && EventType::parse(c).is_err()
    {
        return Err(ApiError::BadQuery(format!("cursor {c:?} is not valid")));
    }
    let mut rows = db::list(&state.db, limit + 1, after).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let mut resp = HttpResponse::Ok();
    if more && let Some(last) = rows.last() {
        resp.insert_header(("X-Next-Cursor", last.name.clone()));
        let next = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("limit", &limit.to_string())
            .append_pair("cursor", &last.name)
            .finish();
        resp.insert_header(("Link", format!("<{}?{next}>; rel=\"next\"", req.path())));
    }
    let views: Vec<EventTypeView> = rows.into_iter().map(EventTypeView::from).collect();
    Ok(resp.json(views))
}

/// Get one event type.
#[utoipa::path(get, path = "/event-types/{name}", tag = "event types", security(("api_key" = [])),
    params(("name" = String, Path, description = "The event type, e.g. `order.created`")),
    responses((status = 200, description = "The event type", body = EventTypeView),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 404, description = "Not in the catalog", body = ErrorBody)))]
pub async fn get_event_type(
    _principal: Principal,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let row = stored(&state, &name).await?;
    Ok(HttpResponse::Ok().json(EventTypeView::from(row)))
}

/// Change an event type's description, schema, example or deprecation.
#[utoipa::path(patch, path = "/event-types/{name}", tag = "event types", request_body = PatchEventType,
    security(("api_key" = [])),
    params(("name" = String, Path, description = "The event type, e.g. `order.created`")),
    responses((status = 200, description = "The changed event type (its version went up)", body = EventTypeView),
        (status = 400, description = "A bad description or schema, or an example that does not match the schema", body = ErrorBody),
        (status = 401, description = "No valid credentials", body = ErrorBody),
        (status = 403, description = "An application-scoped key or session", body = ErrorBody),
        (status = 404, description = "Not in the catalog", body = ErrorBody)))]
pub async fn patch_event_type(
    _key: ApiKey,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Json<PatchEventType>,
) -> ApiResult<HttpResponse> {
    let row = stored(&state, &name).await?;
    let body = body.into_inner();
    let mut spec = EventTypeSpec::from_row(&row);
    if let Some(d) = body.description {
        spec.description = fields::text("description", &d, MAX_DESCRIPTION, false)?;
    }
    if let Some(schema) = body.schema {
        spec.schema = schema.filter(|s| !s.is_null());
    }
    if let Some(example) = body.example {
        spec.example = example.filter(|e| !e.is_null());
    }
    if let Some(deprecated) = body.deprecated {
        spec.deprecated = deprecated;
    }
    check_spec(&spec)?;
    let updated = db::update(&state.db, &spec)
        .await?
        .ok_or(ApiError::NotFound("event type"))?;
    changed(&state).await;
    Ok(HttpResponse::Ok().json(EventTypeView::from(updated)))
}
