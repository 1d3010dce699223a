//! Ingestion: `POST /ingest/{id}?event_type=` (raw body), `POST /webhooks/ingest/{id}`
//! (envelope `{payload, event_type}`), `POST /events` (fan-out) and
//! `POST /subscriptions/{id}/test`. Each answers `202` only after the message and its
//! deliveries are committed (group-committed by the persistence actor), then hands the
//! deliveries to the engine.
//!
//! Order of checks: subscription exists → authentication (signature, or the API key) →
//! input → idempotency → filter. An unwanted event type is recorded as `filtered`, after
//! authentication, so nobody can probe a subscription's filter without its secret.

use std::sync::Arc;

use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use courier_actors::db::messages::{
    IdempotencyRecord, IngestItem, IngestResult, NewDelivery, NewMessage,
};
use courier_actors::db::subscriptions::SubscriptionRow;
use courier_actors::domain::{DeliveryStatus, EventType, SubscriptionStatus};
use courier_actors::job::DeliveryJob;
use courier_actors::persistence::PersistError;
use courier_actors::signing::verify_github;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{ApiKey, has_api_key};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::RouteExt;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.at("/ingest/{id}", web::post().to(ingest_raw))
        .at("/webhooks/ingest/{id}", web::post().to(ingest_envelope))
        .at("/events", web::post().to(ingest_fanout))
        .at("/subscriptions/{id}/test", web::post().to(send_test_event));
}

/// The answer to an accepted ingest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"task_id": "01938a6e-7d1c-7b3e-9f00-000000000002", "message_id": "01938a6e-7d1c-7b3e-9f00-000000000001",
    "status": "accepted", "delivery_id": "01938a6e-7d1c-7b3e-9f00-000000000002", "message": "Webhook accepted"}))]
pub struct IngestAccepted {
    /// The delivery id (per-subscription forms) or the list of delivery ids (`/events`).
    #[schema(value_type = Object)]
    pub task_id: Value,
    pub message_id: Uuid,
    /// `accepted`, `filtered` (recorded, never delivered) or `paused` (held until resume).
    pub status: String,
    /// The original service's name for the delivery id (per-subscription forms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<Uuid>,
    /// `/events`: each delivery with its subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<FanOutDelivery>>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FanOutDelivery {
    pub task_id: Uuid,
    pub subscription_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IngestQuery {
    /// The event's concrete type, e.g. `order.created`.
    pub event_type: Option<String>,
}

/// Body of the envelope form and of `/events`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"payload": {"order_id": "123", "amount": 100}, "event_type": "order.created"}))]
pub struct Envelope {
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    pub event_type: Option<String>,
}

/// Per-subscription ingest, the seed's documented form: the raw body is the payload.
#[utoipa::path(post, path = "/ingest/{id}", tag = "ingestion", params(("id" = Uuid, Path, description = "Subscription id"), IngestQuery),
    request_body(content = Object, description = "The payload, any JSON"),
    params(("X-Hub-Signature-256" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256(secret, raw body)>: required when the subscription has a client-chosen secret"),
           ("Idempotency-Key" = Option<String>, Header, description = "A repeat within 24 h returns the first answer")),
    security((), ("api_key" = [])),
    responses((status = 202, body = IngestAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ingest_raw(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: web::Query<IngestQuery>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let sub = lookup(&state, *id).await?;
    authorize(&req, &sub, &[&body])?;
    let event_type = required_event_type(query.event_type.as_deref())?;
    let payload = json_text(&body)?;
    accept_for(&req, &state, &sub, event_type, payload, false).await
}

/// Per-subscription ingest, the seed's live form: `{payload, event_type}`. The signature may
/// cover the raw body or, as the original's clients sign, the compact JSON of `payload`.
#[utoipa::path(post, path = "/webhooks/ingest/{id}", tag = "ingestion", params(("id" = Uuid, Path, description = "Subscription id")),
    request_body = Envelope, security((), ("api_key" = [])),
    responses((status = 202, body = IngestAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ingest_envelope(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let sub = lookup(&state, *id).await?;
    let envelope: Option<Envelope> = serde_json::from_slice(&body).ok();
    let compact = envelope.as_ref().map(|e| compact_forms(e.payload.get()));
    let mut signed: Vec<&[u8]> = vec![&body];
    if let Some((plain, ascii)) = &compact {
        signed.push(plain.as_bytes());
        signed.push(ascii.as_bytes());
    }
    authorize(&req, &sub, &signed)?;
    let envelope: Envelope =
        serde_json::from_slice(&body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let event_type = required_event_type(envelope.event_type.as_deref())?;
    let payload: Arc<str> = Arc::from(envelope.payload.get());
    accept_for(&req, &state, &sub, event_type, payload, false).await
}

/// Fan-out: one delivery to every subscription whose filter matches. Needs the API key.
#[utoipa::path(post, path = "/events", tag = "ingestion", request_body = Envelope, security(("api_key" = [])),
    responses((status = 202, body = IngestAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ingest_fanout(
    _key: ApiKey,
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let envelope: Envelope =
        serde_json::from_slice(&body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let event_type = required_event_type(envelope.event_type.as_deref())?;
    let idem = idempotency_key(req.headers())?.map(|k| ("events".to_owned(), k));
    if let Some(replay) = replay(&state, idem.as_ref()).await? {
        return Ok(replay);
    }
    let targets = state.engine.directory().matching(&event_type);
    let message = new_message(event_type, Arc::from(envelope.payload.get()), None);
    let deliveries: Vec<NewDelivery> = targets
        .iter()
        .map(|sub| NewDelivery {
            id: Uuid::now_v7(),
            subscription_id: sub.id,
            status: initial_status(sub, true),
        })
        .collect();
    let answer = IngestAccepted {
        task_id: Value::Array(
            deliveries
                .iter()
                .map(|d| Value::String(d.id.to_string()))
                .collect(),
        ),
        message_id: message.id,
        status: if deliveries.is_empty() {
            "filtered"
        } else {
            "accepted"
        }
        .to_owned(),
        delivery_id: None,
        deliveries: Some(
            deliveries
                .iter()
                .map(|d| FanOutDelivery {
                    task_id: d.id,
                    subscription_id: d.subscription_id,
                })
                .collect(),
        ),
        message: "Event accepted".to_owned(),
    };
    store(&state, message, deliveries, idem, answer).await
}

/// Sends a synthetic `courier.test` event to one subscription now, whatever its filter.
#[utoipa::path(post, path = "/subscriptions/{id}/test", tag = "subscriptions", security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 202, body = IngestAccepted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn send_test_event(
    _key: ApiKey,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let sub = lookup(&state, *id).await?;
    let payload = serde_json::json!({
        "type": "courier.test",
        "subscription_id": sub.id,
        "message": "This is a test event from Courier.",
        "sent_at": Utc::now().to_rfc3339(),
    });
    let event_type = EventType::parse("courier.test").map_err(ApiError::from)?;
    accept_for(
        &req,
        &state,
        &sub,
        event_type,
        Arc::from(payload.to_string()),
        true,
    )
    .await
}

/// The live subscription, from the directory, then Redis, then Postgres.
async fn lookup(state: &AppState, id: Uuid) -> ApiResult<Arc<SubscriptionRow>> {
    if let Some(row) = state.engine.directory().get(id) {
        return Ok(row);
    }
    let row = state
        .cache
        .get(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    state.engine.directory().upsert(row.clone());
    Ok(Arc::new(row))
}

/// A subscription with a client-chosen secret needs a valid `X-Hub-Signature-256` over one
/// of `signed`; one without needs the API key.
fn authorize(req: &HttpRequest, sub: &SubscriptionRow, signed: &[&[u8]]) -> ApiResult<()> {
    if !sub.requires_signature {
        return if has_api_key(req, false) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized)
        };
    }
    let header = req
        .headers()
        .get("x-hub-signature-256")
        .ok_or(ApiError::SignatureRequired)?;
    let header = header.to_str().map_err(|_| ApiError::InvalidSignature)?;
    let keys: Vec<Vec<u8>> = sub
        .signing_secrets(Utc::now())
        .iter()
        .map(|s| s.key_bytes())
        .collect();
    let ok = keys
        .iter()
        .any(|k| signed.iter().any(|body| verify_github(k, body, header)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidSignature)
    }
}

fn required_event_type(raw: Option<&str>) -> ApiResult<EventType> {
    let raw = raw
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::Validation("event_type is required".into()))?;
    Ok(EventType::parse(raw)?)
}

/// The body as JSON text, refused unless it is valid JSON.
fn json_text(body: &[u8]) -> ApiResult<Arc<str>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::InvalidJson("the body is not UTF-8".into()))?;
    Ok(Arc::from(text))
}

/// The compact forms of a JSON text the original's clients sign: whitespace outside strings
/// removed, keys in the order sent; and the same with non-ASCII escaped as `\uXXXX` (what
/// Python's `json.dumps` produces by default).
pub fn compact_forms(json: &str) -> (String, String) {
    let mut plain = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            plain.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            plain.push(c);
        }
    }
    let mut ascii = String::with_capacity(plain.len());
    for c in plain.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    (plain, ascii)
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

/// The first answer for a key seen within the idempotency window.
async fn replay(
    state: &AppState,
    idem: Option<&(String, String)>,
) -> ApiResult<Option<HttpResponse>> {
    let Some((scope, key)) = idem else {
        return Ok(None);
    };
    let ttl = state.settings.idempotency_ttl.as_secs_f64();
    let answer = courier_actors::db::messages::fresh_answer(&state.db, scope, key, ttl).await?;
    Ok(answer.map(replayed))
}

fn replayed(answer: Value) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(("Idempotent-Replayed", "true"))
        .json(answer)
}

fn initial_status(sub: &SubscriptionRow, wanted: bool) -> DeliveryStatus {
    match (wanted, sub.status()) {
        (false, _) => DeliveryStatus::Filtered,
        (true, SubscriptionStatus::Active) => DeliveryStatus::Pending,
        (true, _) => DeliveryStatus::Paused,
    }
}

fn new_message(
    event_type: EventType,
    payload: Arc<str>,
    subscription_id: Option<Uuid>,
) -> NewMessage {
    NewMessage {
        id: Uuid::now_v7(),
        event_type: Arc::from(event_type.as_str()),
        payload,
        subscription_id,
    }
}

async fn accept_for(
    req: &HttpRequest,
    state: &AppState,
    sub: &SubscriptionRow,
    event_type: EventType,
    payload: Arc<str>,
    force: bool,
) -> ApiResult<HttpResponse> {
    let idem = idempotency_key(req.headers())?.map(|k| (format!("ingest:{}", sub.id), k));
    if let Some(replay) = replay(state, idem.as_ref()).await? {
        return Ok(replay);
    }
    let status = initial_status(sub, force || sub.filter().wants(&event_type));
    let message = new_message(event_type, payload, Some(sub.id));
    let delivery = NewDelivery {
        id: Uuid::now_v7(),
        subscription_id: sub.id,
        status,
    };
    let answer = IngestAccepted {
        task_id: Value::String(delivery.id.to_string()),
        message_id: message.id,
        status: match status {
            DeliveryStatus::Filtered => "filtered",
            DeliveryStatus::Paused => "paused",
            _ => "accepted",
        }
        .to_owned(),
        delivery_id: Some(delivery.id),
        deliveries: None,
        message: if status == DeliveryStatus::Filtered {
            "Event type not subscribed"
        } else {
            "Webhook accepted"
        }
        .to_owned(),
    };
    store(state, message, vec![delivery], idem, answer).await
}

/// Commits the message and its deliveries, answers 202, and hands the pending ones over.
async fn store(
    state: &AppState,
    message: NewMessage,
    deliveries: Vec<NewDelivery>,
    idem: Option<(String, String)>,
    answer: IngestAccepted,
) -> ApiResult<HttpResponse> {
    let response = serde_json::to_value(&answer).map_err(ApiError::internal)?;
    let idempotency = idem.map(|(scope, key)| IdempotencyRecord {
        scope,
        key,
        response: response.clone(),
    });
    let jobs: Vec<DeliveryJob> = deliveries
        .iter()
        .filter(|d| d.status == DeliveryStatus::Pending)
        .map(|d| DeliveryJob {
            delivery_id: d.id,
            message_id: message.id,
            subscription_id: d.subscription_id,
            event_type: message.event_type.clone(),
            payload: Some(message.payload.clone()),
            attempts_made: 0,
            attempt_base: 0,
            due_ms: Utc::now().timestamp_millis(),
        })
        .collect();
    let deliveries_by_status: Vec<DeliveryStatus> = deliveries.iter().map(|d| d.status).collect();
    let item = IngestItem {
        message,
        deliveries,
        idempotency,
    };
    match state.engine.ingest(item).await {
        Ok(IngestResult::Stored) => {
            metrics::counter!("courier_ingest_messages_total").increment(1);
            for d in &deliveries_by_status {
                metrics::counter!("courier_ingest_deliveries_total", "status" => d.as_str())
                    .increment(1);
            }
            state.engine.dispatch(jobs);
            Ok(HttpResponse::Accepted().json(response))
        }
        Ok(IngestResult::Repeat(first)) => Ok(replayed(first)),
        Err(PersistError::Unavailable(_) | PersistError::Stopped) => Err(ApiError::Unavailable),
        Err(PersistError::Failed(e)) => Err(ApiError::internal(anyhow::anyhow!(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::compact_forms;

    #[test]
    fn compact_forms_drop_whitespace_outside_strings_and_keep_key_order() {
        let (plain, ascii) = compact_forms("{ \"b\": 1,\n \"a\" : \"x y\\\" é\" }");
        assert_eq!(plain, "{\"b\":1,\"a\":\"x y\\\" é\"}");
        assert_eq!(ascii, "{\"b\":1,\"a\":\"x y\\\" \\u00e9\"}");
    }
}
