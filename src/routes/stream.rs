//! `GET /stream`: Server-Sent Events, one `attempt` event per finished attempt, optionally
//! for one subscription. Browsers' EventSource cannot send headers, so it authenticates with
//! the session cookie from `POST /auth/session` (or a bearer header); no key is read from the
//! URL. A slow reader that falls behind skips events (and is told how many)
//! rather than holding memory.

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use courier_actors::engine::AttemptEvent;
use futures_util::stream;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::routes::RouteExt;
use crate::routes::views::AttemptView;
use crate::state::AppState;
use crate::tenant::Tenant;
use courier_actors::headers::CredentialHeaders;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.at("/stream", web::get().to(stream_attempts))
        .at("/applications/{app}/stream", web::get().to(stream_attempts));
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct StreamQuery {
    /// Only this subscription's attempts.
    pub subscription_id: Option<Uuid>,
}

/// The JSON of one event.
pub fn event_json(e: &AttemptEvent) -> serde_json::Value {
    let a = &e.attempt;
    json!({
        "subscription_id": e.subscription_id,
        "delivery_id": e.delivery_id,
        "message_id": e.message_id,
        "event_type": e.event_type,
        "delivery_status": e.delivery_status,
        "attempt": AttemptView {
            id: a.id,
            delivery_id: a.delivery_id,
            attempt_number: a.attempt_number,
            attempted_at: a.attempted_at,
            request_headers: serde_json::from_str(&a.request_headers).unwrap_or_default(),
            status_code: a.status_code,
            response_body: a.response_body.clone(),
            response_body_base64: a.response_body_base64.clone(),
            response_headers: a
                .response_headers
                .as_deref()
                .and_then(|h| serde_json::from_str(h).ok()),
            duration_ms: a.duration_ms,
            error_class: a.error_class.map(str::to_owned),
            error_message: a.error_message.clone(),
            succeeded: a.succeeded,
        },
    })
}

enum Next {
    Event(Bytes),
    Skip,
    End,
}

/// Which events a stream shows: one application's (or all), one subscription's (or all).
#[derive(Debug, Clone, Copy)]
struct Only {
    app: Option<Uuid>,
    subscription: Option<Uuid>,
}

impl Only {
    fn shows(&self, e: &AttemptEvent) -> bool {
        self.app.is_none_or(|a| a == e.application_id)
            && self.subscription.is_none_or(|s| s == e.subscription_id)
    }
}

async fn next_frame(
    rx: &mut broadcast::Receiver<AttemptEvent>,
    only: Only,
    rules: &CredentialHeaders,
) -> Next {
    match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
        Err(_) => Next::Event(Bytes::from_static(b": keep-alive\n\n")),
        Ok(Ok(e)) if !only.shows(&e) => Next::Skip,
        Ok(Ok(e)) => {
            let mut json = event_json(&e);
            json["attempt"]["request_headers"] =
                rules.mask_json(&json["attempt"]["request_headers"]);
            Next::Event(Bytes::from(format!("event: attempt\ndata: {json}\n\n")))
        }
        Ok(Err(RecvError::Lagged(n))) => Next::Event(Bytes::from(format!(
            "event: lagged\ndata: {{\"skipped\": {n}}}\n\n"
        ))),
        Ok(Err(RecvError::Closed)) => Next::End,
    }
}

/// Live tail of attempts as Server-Sent Events (`event: attempt`): every application the
/// principal reaches (an application key or session: its own only; under
/// `/applications/{app}/stream`: that application).
#[utoipa::path(get, path = "/stream", tag = "deliveries", params(StreamQuery), security(("api_key" = [])),
    responses((status = 200, description = "text/event-stream; `event: attempt`, data as in the attempt log", content_type = "text/event-stream"),
        (status = 400, body = ErrorBody, description = "a malformed query"),
        (status = 401, body = ErrorBody, description = "no bearer key and no live session cookie")))]
pub async fn stream_attempts(
    tenant: Tenant,
    state: web::Data<AppState>,
    query: web::Query<StreamQuery>,
) -> ApiResult<HttpResponse> {
    let rx = state.engine.subscribe();
    let only = Only {
        app: tenant.visible(),
        subscription: query.subscription_id,
    };
    let rules = state.settings.credential_headers.clone();
    let hello = Bytes::from_static(b": connected\n\n");
    let frames = stream::unfold((rx, Some(hello)), move |(mut rx, first)| {
        let rules = rules.clone();
        async move {
            if let Some(b) = first {
                return Some((Ok::<_, actix_web::Error>(b), (rx, None)));
            }
            loop {
                match next_frame(&mut rx, only, &rules).await {
                    Next::Event(b) => return Some((Ok(b), (rx, None))),
                    Next::Skip => continue,
                    Next::End => return None,
                }
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(frames))
}
