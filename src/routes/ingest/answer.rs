//! How an ingest is answered: the receipt of what was committed (or the first answer of a
//! repeated `Idempotency-Key`) rendered as the original service's `{task_id, message_id,
//! status}` plus our fields.

use actix_web::HttpResponse;
use courier_actors::db::messages::{IngestResult, Receipt};
use courier_actors::domain::DeliveryStatus;
use courier_actors::persistence::IngestError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The answer to an accepted ingest.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"task_id": "01938a6e-7d1c-7b3e-9f00-000000000002", "message_id": "01938a6e-7d1c-7b3e-9f00-000000000001",
    "status": "accepted", "delivery_id": "01938a6e-7d1c-7b3e-9f00-000000000002", "message": "Webhook accepted"}))]
pub struct IngestAccepted {
    /// The delivery id (per-subscription forms) or the list of delivery ids (`/events`).
    pub task_id: TaskId,
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

/// One delivery id (per-subscription forms) or a list of them (`/events`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TaskId {
    One(Uuid),
    Many(Vec<Uuid>),
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FanOutDelivery {
    pub task_id: Uuid,
    pub subscription_id: Uuid,
    /// `pending`, `paused` (held) or `filtered`.
    #[schema(value_type = String)]
    pub status: DeliveryStatus,
}

/// Which form was used: the answer differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// One subscription; `content_filtered`: its event types take the event but its content
    /// filter does not (the answer says which).
    Single {
        content_filtered: bool,
    },
    FanOut,
}

pub fn render(form: Form, receipt: &Receipt) -> ApiResult<IngestAccepted> {
    match form {
        Form::Single { content_filtered } => {
            // The subscription was deleted between the look-up and the commit.
            let d = receipt
                .deliveries
                .first()
                .ok_or(ApiError::NotFound("subscription"))?;
            let (status, message) = match d.status {
                DeliveryStatus::Filtered if content_filtered => (
                    "filtered",
                    "Event does not match the subscription's content filter",
                ),
                DeliveryStatus::Filtered => ("filtered", "Event type not subscribed"),
                DeliveryStatus::Paused => (
                    "paused",
                    "Webhook accepted; held while the subscription is paused",
                ),
                _ => ("accepted", "Webhook accepted"),
            };
            Ok(IngestAccepted {
                task_id: TaskId::One(d.id),
                message_id: receipt.message_id,
                status: status.to_owned(),
                delivery_id: Some(d.id),
                deliveries: None,
                message: message.to_owned(),
            })
        }
        Form::FanOut => Ok(IngestAccepted {
            task_id: TaskId::Many(receipt.deliveries.iter().map(|d| d.id).collect()),
            message_id: receipt.message_id,
            status: if receipt.deliveries.is_empty() {
                "filtered"
            } else {
                "accepted"
            }
            .to_owned(),
            delivery_id: None,
            deliveries: Some(
                receipt
                    .deliveries
                    .iter()
                    .map(|d| FanOutDelivery {
                        task_id: d.id,
                        subscription_id: d.subscription_id,
                        status: d.status,
                    })
                    .collect(),
            ),
            message: "Event accepted".to_owned(),
        }),
    }
}

/// The HTTP answer to what the engine did with an ingest.
pub fn respond(form: Form, result: Result<IngestResult, IngestError>) -> ApiResult<HttpResponse> {
    match result {
        Ok(IngestResult::Stored(receipt)) => {
            metrics::counter!("courier_ingest_messages_total").increment(1);
            for d in &receipt.deliveries {
                metrics::counter!("courier_ingest_deliveries_total", "status" => d.status.as_str())
                    .increment(1);
            }
            Ok(HttpResponse::Accepted().json(render(form, &receipt)?))
        }
        Ok(IngestResult::Repeat(first)) => {
            let body = match serde_json::from_value::<Receipt>(first.clone()) {
                Ok(receipt) => serde_json::to_value(render(form, &receipt)?).unwrap_or(first),
                Err(_) => first,
            };
            Ok(replayed(body))
        }
        Err(e) => Err(e.into()),
    }
}

fn replayed(answer: Value) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(("Idempotent-Replayed", "true"))
        .json(answer)
}
