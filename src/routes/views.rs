//! How deliveries, attempts and messages look in answers, and the queries that assemble them
//! (one query for the rows, one for all their attempts, one for all their payloads).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use courier_actors::db::deliveries::{self, AttemptRow, DeliveryRow};
use courier_actors::headers::CredentialHeaders;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

/// One attempt to deliver.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "01938a6e-7d1c-7b3e-9f00-000000000001", "delivery_id": "01938a6e-7d1c-7b3e-9f00-000000000002",
    "attempt_number": 1, "attempted_at": "2026-11-29T12:00:00Z",
    "request_headers": {"webhook-id": "01938a6e-7d1c-7b3e-9f00-000000000003", "x-courier-attempt": "1"},
    "status_code": 503, "response_body": "try later", "duration_ms": 12, "error_class": "http_status",
    "error_message": "receiver answered 503", "succeeded": false}))]
pub struct AttemptView {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub attempt_number: i32,
    pub attempted_at: DateTime<Utc>,
    /// The headers sent (signatures included; they do not reveal the secret).
    #[schema(value_type = Object)]
    pub request_headers: Value,
    pub status_code: Option<i32>,
    /// The first 4 KiB of the receiver's answer, as readable text (invalid UTF-8 shown as
    /// U+FFFD, NUL as U+2400).
    pub response_body: Option<String>,
    /// The exact bytes of that prefix, base64, when they are not plain UTF-8 text.
    pub response_body_base64: Option<String>,
    /// The receiver's answer headers (at most 64, 8 KiB).
    #[schema(value_type = Option<Object>)]
    pub response_headers: Option<Value>,
    pub duration_ms: i32,
    /// `timeout`, `connect`, `dns`, `tls`, `http_status`, `blocked_target`, `invalid_response`
    /// (a malformed or oversized answer head) or `secret_unavailable`.
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub succeeded: bool,
}

impl From<AttemptRow> for AttemptView {
    fn from(a: AttemptRow) -> Self {
        Self {
            id: a.id,
            delivery_id: a.delivery_id,
            attempt_number: a.attempt_number,
            attempted_at: a.attempted_at,
            request_headers: a.request_headers.0,
            status_code: a.status_code,
            response_body: a.response_body,
            response_body_base64: a.response_body_base64,
            response_headers: a.response_headers.map(|h| h.0),
            duration_ms: a.duration_ms,
            error_class: a.error_class,
            error_message: a.error_message,
            succeeded: a.succeeded,
        }
    }
}

/// One message to one subscription, with every attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub application_id: Uuid,
    /// The same as `id` (the seed service called it the task id).
    pub task_id: Uuid,
    pub message_id: Uuid,
    pub subscription_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivering`, `retrying`, `succeeded`, `failed`, `filtered` or `paused`.
    pub status: String,
    pub attempt_count: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its ordering key: deliveries with the same key to this subscription go one after
    /// another, in ingest order (`POST /deliveries/{id}/skip` releases a stuck one).
    pub ordering_key: Option<String>,
    /// The payload as the producer sent it.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub attempts: Vec<AttemptView>,
}

fn parse_payload(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Builds views for `rows`, keeping their order.
pub async fn delivery_views(
    db: &PgPool,
    rules: &CredentialHeaders,
    rows: Vec<DeliveryRow>,
) -> Result<Vec<DeliveryView>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut message_ids: Vec<Uuid> = rows.iter().map(|r| r.message_id).collect();
    message_ids.sort();
    message_ids.dedup();
    let mut attempts: HashMap<Uuid, Vec<AttemptView>> = HashMap::new();
    for a in deliveries::attempts_for(db, &ids).await? {
        let mut view = AttemptView::from(a);
        // Stored masked since tenancy; attempts logged before are masked here.
        view.request_headers = rules.mask_json(&view.request_headers);
        attempts.entry(view.delivery_id).or_default().push(view);
    }
    let payloads: BTreeMap<Uuid, String> = deliveries::payloads_for(db, &message_ids)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| DeliveryView {
            task_id: r.id,
            application_id: r.application_id,
            payload: payloads
                .get(&r.message_id)
                .map_or(Value::Null, |p| parse_payload(p)),
            attempts: attempts.remove(&r.id).unwrap_or_default(),
            id: r.id,
            message_id: r.message_id,
            subscription_id: r.subscription_id,
            event_type: r.event_type,
            status: r.status,
            attempt_count: r.attempt_count,
            next_attempt_at: r.next_attempt_at,
            last_attempt_at: r.last_attempt_at,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
            ordering_key: r.ordering_key,
        })
        .collect())
}

/// A message with its deliveries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    pub id: Uuid,
    pub application_id: Uuid,
    pub event_type: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    /// The subscription of the per-subscription ingest forms; null for fan-out.
    pub subscription_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub deliveries: Vec<DeliveryView>,
}

pub fn message_payload(text: &str) -> Value {
    parse_payload(text)
}
