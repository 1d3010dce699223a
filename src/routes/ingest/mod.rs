//! Ingestion: `POST /ingest/{id}?event_type=` (raw body), `POST /webhooks/ingest/{id}`
//! (envelope `{payload, event_type}`), `POST /events` (fan-out) and
//! `POST /subscriptions/{id}/test`. Each answers `202` only after the message and its
//! deliveries are committed: the engine group-commits them and hands the deliveries to the
//! actors before it returns.
//!
//! Order of checks: subscription exists → authentication (signature, or the API key) →
//! input (shape limits first, [`courier_actors::payload`]) → filter. An unwanted event type
//! is recorded as `filtered`, after authentication, so nobody can probe a subscription's
//! filter without its secret.

mod answer;
mod event;
#[cfg(test)]
#[path = "fuzz_tests.rs"]
mod fuzz_tests;
mod signature;

use std::sync::Arc;

use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use courier_actors::db::messages::{IngestItem, NewMessage, Target};
use courier_actors::db::subscriptions::SubscriptionRow;
use courier_actors::domain::EventType;
use courier_actors::payload::{MAX_DEPTH, check_shape};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub use self::answer::{FanOutDelivery, IngestAccepted, TaskId};
use self::answer::{Form, respond};
use self::event::Event;
use self::signature::{authorize, compact_forms};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::RouteExt;
use crate::state::AppState;
use crate::tenant::Tenant;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.at("/ingest/{id}", web::post().to(ingest_raw))
        .at("/webhooks/ingest/{id}", web::post().to(ingest_envelope))
        .at("/events", web::post().to(ingest_fanout))
        .at("/applications/{app}/events", web::post().to(ingest_fanout))
        .at("/subscriptions/{id}/test", web::post().to(send_test_event))
        .at(
            "/applications/{app}/subscriptions/{id}/test",
            web::post().to(send_test_event),
        );
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IngestQuery {
    /// The event's concrete type, e.g. `order.created`.
    pub event_type: Option<String>,
    /// Deliveries with the same key to one subscription are made one after another, in
    /// ingest order (at most 256 bytes; also the `X-Courier-Ordering-Key` header).
    pub ordering_key: Option<String>,
}

/// Body of the envelope form and of `/events`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"payload": {"order_id": "123", "amount": 100}, "event_type": "order.created"}))]
pub struct Envelope {
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    pub event_type: Option<String>,
    /// Deliveries with the same key to one subscription are made one after another, in
    /// ingest order (at most 256 bytes; also the `X-Courier-Ordering-Key` header).
    #[serde(default)]
    pub ordering_key: Option<String>,
}

/// Per-subscription ingest, the seed's documented form: the raw body is the payload.
#[utoipa::path(post, path = "/ingest/{id}", tag = "ingestion", params(("id" = Uuid, Path, description = "Subscription id"), IngestQuery),
    request_body(content = Object, description = "The payload, any JSON"),
    params(("X-Hub-Signature-256" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256(secret, raw body)>: required when the subscription has a client-chosen secret"),
           ("Idempotency-Key" = Option<String>, Header, description = "A repeat within 24 h returns the first answer")),
    security((), ("api_key" = [])),
    responses((status = 202, body = IngestAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ingest_raw(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<IngestQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let sub = lookup(&state, *id).await?;
    authorize(&req, state.engine.keyring(), &sub, &[&body]).await?;
    let event_type = required_event_type(query.event_type.as_deref())?;
    let payload = json_text(&body)?;
    let rules = &state.settings.credential_headers;
    let event = Event::new(
        &req,
        rules,
        event_type,
        payload,
        query.ordering_key.as_deref(),
    )?;
    accept_for(&req, &state, &sub, event, false).await
}

/// Per-subscription ingest, the seed's live form: `{payload, event_type}`. The signature may
/// cover the raw body or, as the original's clients sign, the compact JSON of `payload`.
#[utoipa::path(post, path = "/webhooks/ingest/{id}", tag = "ingestion", params(("id" = Uuid, Path, description = "Subscription id")),
    request_body = Envelope, security((), ("api_key" = [])),
    responses((status = 202, body = IngestAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ingest_envelope(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let sub = lookup(&state, *id).await?;
    let envelope: Option<Envelope> = shaped(&body, MAX_DEPTH + 1)
        .ok()
        .and_then(|()| serde_json::from_slice(&body).ok());
    let compact = envelope.as_ref().map(|e| compact_forms(e.payload.get()));
    let mut signed: Vec<&[u8]> = vec![&body];
    if let Some((plain, ascii)) = &compact {
        signed.push(plain.as_bytes());
        signed.push(ascii.as_bytes());
    }
    authorize(&req, state.engine.keyring(), &sub, &signed).await?;
    let envelope = parse_envelope(&body)?;
    let event_type = required_event_type(envelope.event_type.as_deref())?;
    let payload: Arc<str> = Arc::from(envelope.payload.get());
    let rules = &state.settings.credential_headers;
    let key = envelope.ordering_key.as_deref();
    let event = Event::new(&req, rules, event_type, payload, key)?;
    accept_for(&req, &state, &sub, event, false).await
}

/// Fan-out: one delivery to every subscription whose filter matches. Needs the API key.
#[utoipa::path(post, path = "/events", tag = "ingestion", request_body = Envelope, security(("api_key" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "A repeat within 24 h returns the first answer")),
    responses((status = 202, body = IngestAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ingest_fanout(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let envelope = parse_envelope(&body)?;
    let event_type = required_event_type(envelope.event_type.as_deref())?;
    validate_payload(&state, &event_type, envelope.payload.get()).await?;
    let scope = format!("events:{}", tenant.app_id);
    let idempotency = idempotency_key(req.headers())?.map(|k| (scope, k));
    let rules = &state.settings.credential_headers;
    let payload = Arc::from(envelope.payload.get());
    let key = envelope.ordering_key.as_deref();
    let event = Event::new(&req, rules, event_type, payload, key)?;
    let directory = state.engine.directory();
    let targets = directory
        .matching(tenant.app_id, &event.event_type)
        .iter()
        .map(|sub| Target {
            delivery_id: Uuid::now_v7(),
            subscription_id: sub.id,
            wanted: event.passes(directory.content_filter(sub.id).as_deref()),
        })
        .collect();
    let item = IngestItem {
        message: new_message(tenant.app_id, &event, None),
        targets,
        idempotency,
    };
    respond(Form::FanOut, state.engine.ingest(item).await)
}

/// With `COURIER_VALIDATE_PAYLOADS`, the payload must match its type's schema (`422`).
async fn validate_payload(
    state: &AppState,
    event_type: &EventType,
    payload: &str,
) -> ApiResult<()> {
    state
        .catalog
        .validate(event_type.as_str(), payload)
        .await
        .map_err(|v| ApiError::payload_invalid(event_type.as_str(), v))
}

/// Sends a synthetic `courier.test` event to one subscription now, whatever its filter.
#[utoipa::path(post, path = "/subscriptions/{id}/test", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 202, body = IngestAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn send_test_event(
    tenant: Tenant,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let sub = crate::routes::subscriptions::reachable(&state, &tenant, &req).await?;
    let payload = serde_json::json!({
        "type": "courier.test",
        "subscription_id": sub.id,
        "message": "This is a test event from Courier.",
        "sent_at": Utc::now().to_rfc3339(),
    });
    let event_type = EventType::parse("courier.test").map_err(ApiError::from)?;
    let rules = &state.settings.credential_headers;
    let event = Event::new(
        &req,
        rules,
        event_type,
        Arc::from(payload.to_string()),
        None,
    )?;
    accept_for(&req, &state, &sub, event, true).await
}

/// The live subscription (this node's directory, else Postgres).
async fn lookup(state: &AppState, id: Uuid) -> ApiResult<Arc<SubscriptionRow>> {
    state
        .engine
        .subscription(id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))
}

fn required_event_type(raw: Option<&str>) -> ApiResult<EventType> {
    let raw = raw
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::Validation("event_type is required".into()))?;
    Ok(EventType::parse(raw)?)
}

/// The shape limits, as a 400 `payload_too_deep`.
fn shaped(body: &[u8], max_depth: usize) -> ApiResult<()> {
    check_shape(body, max_depth).map_err(|e| ApiError::PayloadTooDeep(e.to_string()))
}

/// The body as JSON text, refused unless it is valid JSON within the shape limits.
fn json_text(body: &[u8]) -> ApiResult<Arc<str>> {
    shaped(body, MAX_DEPTH)?;
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::InvalidJson("the body is not UTF-8".into()))?;
    Ok(Arc::from(text))
}

/// The envelope, with its payload within the shape limits.
fn parse_envelope(body: &[u8]) -> ApiResult<Envelope> {
    shaped(body, MAX_DEPTH + 1)?;
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// A present `Idempotency-Key`, validated.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()));
    v.map(|s| Some(s.to_owned())).ok_or_else(|| {
        ApiError::Validation("Idempotency-Key must be 1 to 255 visible ASCII characters".into())
    })
}

fn new_message(application_id: Uuid, event: &Event, subscription_id: Option<Uuid>) -> NewMessage {
    NewMessage {
        id: Uuid::now_v7(),
        application_id,
        event_type: Arc::from(event.event_type.as_str()),
        payload: event.payload.clone(),
        subscription_id,
        ordering_key: event.ordering_key.clone(),
    }
}

async fn accept_for(
    req: &HttpRequest,
    state: &AppState,
    sub: &SubscriptionRow,
    event: Event,
    force: bool,
) -> ApiResult<HttpResponse> {
    let idempotency = idempotency_key(req.headers())?.map(|k| (format!("ingest:{}", sub.id), k));
    let filter = state.engine.directory().content_filter(sub.id);
    let type_wanted = sub.filter().wants(&event.event_type);
    let wanted = force || (type_wanted && event.passes(filter.as_deref()));
    if wanted && !force {
        validate_payload(state, &event.event_type, &event.payload).await?;
    }
    let item = IngestItem {
        message: new_message(sub.application_id, &event, Some(sub.id)),
        targets: vec![Target {
            delivery_id: Uuid::now_v7(),
            subscription_id: sub.id,
            wanted,
        }],
        idempotency,
    };
    let form = Form::Single {
        content_filtered: !wanted && type_wanted,
    };
    respond(form, state.engine.ingest(item).await)
}
