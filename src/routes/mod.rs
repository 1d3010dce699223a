//! HTTP routes. Each module owns one resource; `configure` wires them all, with extractor
//! settings that turn every malformed body, query or path into a JSON 4xx.

pub mod api_keys;
pub mod applications;
pub mod auth_session;
pub mod dashboard;
pub mod deliveries;
pub mod docs;
pub mod event_types;
pub mod explorer;
pub mod fields;
pub mod health;
pub mod ingest;
pub mod portal;
pub mod stats;
pub mod stream;
pub mod subscriptions;
pub mod views;

use actix_web::dev::ServiceResponse;
use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::header;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::ApiError;

/// The prefix of the routes scoped to one application (see [`crate::tenant`]).
pub const SCOPED: &str = "/applications/{app}";

/// Registers every route and the extractor error handlers.
pub fn configure(max_body: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(json_config(max_body))
            .app_data(web::PayloadConfig::new(max_body))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::BadQuery(e.to_string()).into()),
            )
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                ApiError::InvalidId(format!("a path segment is not valid: {e}")).into()
            }))
            .configure(health::configure)
            .configure(docs::configure)
            .configure(subscriptions::configure(""))
            .configure(subscriptions::configure(SCOPED))
            .configure(ingest::configure)
            .configure(explorer::configure)
            .configure(deliveries::configure(""))
            .configure(deliveries::configure(SCOPED))
            .configure(stream::configure)
            .configure(stats::configure)
            .configure(applications::configure)
            .configure(api_keys::configure)
            .configure(event_types::configure)
            .configure(auth_session::configure)
            .configure(portal::configure)
            .configure(crate::observability::configure)
            .configure(dashboard::configure);
    }
}

fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        // Clients of the original service often omit Content-Type (curl -d sends a form type).
        .content_type_required(false)
        .error_handler(move |e, _| json_error(e, limit).into())
}

/// Maps a JSON extractor failure to our error.
pub fn json_error(e: JsonPayloadError, limit: usize) -> ApiError {
    match e {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge { limit }
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit },
        JsonPayloadError::Deserialize(e) => ApiError::InvalidJson(e.to_string()),
        other => ApiError::InvalidJson(other.to_string()),
    }
}

/// Registers a route on a resource of its own whose other methods answer a JSON 405 (by
/// default actix would hand them to the app's 404).
pub trait RouteExt {
    fn at(&mut self, path: &str, route: actix_web::Route) -> &mut Self;
}

impl RouteExt for web::ServiceConfig {
    fn at(&mut self, path: &str, route: actix_web::Route) -> &mut Self {
        self.service(
            web::resource(path)
                .route(route)
                .default_service(web::to(method_not_allowed)),
        )
    }
}

pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// The answer for paths that match no route.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}

/// Gives every 4xx that actix itself produced (405, an oversized raw body, …) our JSON error
/// body; answers that are already JSON pass through untouched.
pub fn json_client_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = res.response().error().map(ToString::to_string);
    let error = match status.as_u16() {
        405 => ApiError::MethodNotAllowed,
        413 => ApiError::PayloadTooLarge { limit: 0 },
        404 => ApiError::NotFound("route"),
        _ => ApiError::BadRequest(detail.unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("bad request")
                .to_owned()
        })),
    };
    let (req, _) = res.into_parts();
    let mut resp = error.error_response();
    if status.as_u16() != 413 && status.as_u16() != 405 && status.as_u16() != 404 {
        *resp.status_mut() = status;
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, resp).map_into_right_body(),
    ))
}

/// `limit` and `cursor`, shared by every list route.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
}

pub const MAX_PAGE: i64 = 500;

/// A validated page request: fetch `limit + 1` rows to learn whether another page exists.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub before: Option<Uuid>,
}

impl Page {
    pub fn parse(limit: Option<i64>, cursor: Option<&str>, default: i64) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(default);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::BadQuery(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        let before = match cursor.filter(|c| !c.is_empty()) {
            Some(c) => Some(
                Uuid::parse_str(c)
                    .map_err(|_| ApiError::BadQuery(format!("cursor {c:?} is not valid")))?,
            ),
            None => None,
        };
        Ok(Self { limit, before })
    }
}

/// Trims a `limit + 1` result to a page and answers it as a bare JSON array, with the next
/// page's cursor in `X-Next-Cursor` (and a `Link` header) when there is one.
pub fn page_response<T: serde::Serialize>(
    req: &HttpRequest,
    mut rows: Vec<T>,
    page: Page,
    id_of: impl Fn(&T) -> Uuid,
) -> HttpResponse {
    let more = rows.len() as i64 > page.limit;
    rows.truncate(usize::try_from(page.limit).unwrap_or(0));
    let mut resp = HttpResponse::Ok();
    if more && let Some(last) = rows.last() {
        let cursor = id_of(last).to_string();
        let link = format!(
            "<{}?{}>; rel=\"next\"",
            req.path(),
            next_query(req.query_string(), &cursor)
        );
        resp.insert_header(("X-Next-Cursor", cursor));
        resp.insert_header((header::LINK, link));
    }
    resp.json(rows)
}

/// The query string of the next page: the same filters, with `cursor` replaced.
fn next_query(query: &str, cursor: &str) -> String {
    let kept = url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "cursor");
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .append_pair("cursor", cursor)
        .finish()
}

/// Parses a JSON body after the shape limits ([`courier_actors::payload`]): too deep is
/// `400 payload_too_deep`, anything serde refuses `400 invalid_json`.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    courier_actors::payload::check_shape(body, courier_actors::payload::MAX_DEPTH)
        .map_err(|e| ApiError::PayloadTooDeep(e.to_string()))?;
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// A JSON body, checked by [`parse_json`]: the extractor of every management route that
/// takes JSON.
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = bytes.await.map_err(|e| {
                let status = e.as_response_error().status_code();
                if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge { limit: 0 }
                } else {
                    ApiError::BadRequest(e.to_string())
                }
            })?;
            parse_json(&body).map(JsonBody)
        })
    }
}
