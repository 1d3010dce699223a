//! An event as the ingest routes hand it on: its type, its payload (the producer's JSON text),
//! its ordering key, and what content filters match it against.
//!
//! The ordering key comes from the `ordering_key` query parameter (raw form), the envelope's
//! `ordering_key` field, or the `X-Courier-Ordering-Key` header, in that order; it is at most
//! 256 bytes of text without control characters.

use std::sync::{Arc, OnceLock};

use actix_web::HttpRequest;
use courier_actors::domain::EventType;
use courier_actors::filter::{Filter, document};
use courier_actors::headers::CredentialHeaders;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// The longest ordering key.
pub const MAX_ORDERING_KEY: usize = 256;

pub struct Event {
    pub event_type: EventType,
    pub payload: Arc<str>,
    pub ordering_key: Option<Arc<str>>,
    /// The filter document, made on first use.
    doc: OnceLock<Value>,
    headers: Map<String, Value>,
}

impl Event {
    pub fn new(
        req: &HttpRequest,
        rules: &CredentialHeaders,
        event_type: EventType,
        payload: Arc<str>,
        given_key: Option<&str>,
    ) -> ApiResult<Self> {
        let header = req
            .headers()
            .get("x-courier-ordering-key")
            .map(|v| v.to_str().map_err(|_| bad_key("is not text")))
            .transpose()?;
        let ordering_key = match given_key.or(header) {
            Some(k) => Some(Arc::from(check_key(k)?)),
            None => None,
        };
        Ok(Self {
            event_type,
            payload,
            ordering_key,
            doc: OnceLock::new(),
            headers: filterable_headers(req, rules),
        })
    }

    /// Whether a subscription's content filter takes this event.
    pub fn passes(&self, filter: Option<&Filter>) -> bool {
        let Some(filter) = filter else { return true };
        let doc = self.doc.get_or_init(|| {
            let payload = serde_json::from_str(&self.payload).unwrap_or(Value::Null);
            document(self.event_type.as_str(), payload, self.headers.clone())
        });
        filter.matches(doc)
    }
}

fn bad_key(why: &str) -> ApiError {
    ApiError::Validation(format!("ordering_key {why}"))
}

fn check_key(k: &str) -> ApiResult<&str> {
    if k.is_empty() || k.len() > MAX_ORDERING_KEY {
        return Err(bad_key(&format!("must be 1 to {MAX_ORDERING_KEY} bytes")));
    }
    if k.chars().any(char::is_control) {
        return Err(bad_key("must not contain control characters"));
    }
    Ok(k)
}

/// The request's headers a filter may look at: lower-cased names, never credentials or
/// signatures.
fn filterable_headers(req: &HttpRequest, rules: &CredentialHeaders) -> Map<String, Value> {
    req.headers()
        .iter()
        .filter(|(k, _)| {
            let name = k.as_str();
            !rules.is_credential(name) && name != "x-hub-signature-256"
        })
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_owned(),
                Value::String(v.to_str().ok()?.to_owned()),
            ))
        })
        .collect()
}
