//! The DeliveryActor: one per attempt. It signs the payload (Standard Webhooks and GitHub
//! style), checks once more that this node still holds the subscription's lease, POSTs it
//! with awc through the SSRF-guarded resolver, reads at most 4 KiB of the answer (kept
//! losslessly, [`crate::answer`]), and reports an [`AttemptDone`] to its subscription actor,
//! then stops. Everything it logs is inside an `attempt` span naming the delivery, message
//! and subscription.
//!
//! Takes: nothing (it starts working when started). Sends: [`AttemptDone`].
//! Must never: send under a lease this node no longer holds, follow a redirect, connect to an
//! address the guard refused, or report a failed delivery as an `Err` (a failure is an
//! outcome, not an error).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_tls::connect::{Connector as TcpConnector, Resolver};
use awc::error::{ConnectError, SendRequestError};
use chrono::Utc;
use futures_util::StreamExt as _;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::answer::{pg_text, store_body, store_headers};
use crate::db::outcomes::AttemptRecord;
use crate::db::subscriptions::SubscriptionRow;
use crate::domain::ErrorClass;
use crate::job::DeliveryJob;
use crate::messages::AttemptDone;
use crate::ownership::Leases;
use crate::retry::parse_retry_after;
use crate::signing::{github_signature, standard_signature_header};
use crate::ssrf::{BlockedTarget, GuardedResolver, check_literal};

/// The most of a receiver's answer that is kept.
pub const RESPONSE_BODY_LIMIT: usize = 4096;

/// What an attempt needs to know.
#[derive(Debug, Clone)]
pub struct AttemptSpec {
    pub job: DeliveryJob,
    pub payload: Arc<str>,
    pub subscription: Arc<SubscriptionRow>,
    pub attempt_number: i32,
    pub timeout: Duration,
    pub allow_private: bool,
    /// The lease the attempt goes out under, checked again just before sending.
    pub leases: Leases,
    pub shard: u16,
    pub epoch: i64,
    /// Opens the subscription's sealed secret and headers.
    pub keyring: Arc<crate::crypto::KeyRing>,
    /// Credential headers are stored masked in the attempt log.
    pub credential_headers: Arc<crate::headers::CredentialHeaders>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// A 2xx within the timeout.
    Success { status: u16 },
    /// Any other HTTP status; `retry_after` as the receiver sent it.
    HttpStatus {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No HTTP answer.
    Failed { class: ErrorClass },
}

pub struct DeliveryActor {
    spec: Option<AttemptSpec>,
    reply_to: Recipient<AttemptDone>,
    /// One of the node's attempt permits: handed back with the outcome, which keeps it until
    /// the outcome is written (so unwritten outcomes are bounded by the permits).
    permit: Option<crate::capacity::Permit>,
}

impl DeliveryActor {
    pub fn new(
        spec: AttemptSpec,
        reply_to: Recipient<AttemptDone>,
        permit: crate::capacity::Permit,
    ) -> Self {
        Self {
            spec: Some(spec),
            reply_to,
            permit: Some(permit),
        }
    }
}

impl Actor for DeliveryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let Some(spec) = self.spec.take() else {
            ctx.stop();
            return;
        };
        let span = tracing::info_span!("attempt",
            delivery_id = %spec.job.delivery_id, message_id = %spec.job.message_id,
            subscription_id = %spec.job.subscription_id, attempt = spec.attempt_number);
        let fut = async move {
            let result = if spec.leases.allows(spec.shard, spec.epoch, Instant::now()) {
                Some(perform(&spec).await)
            } else {
                tracing::warn!("lease lost before sending; the attempt is not made");
                None
            };
            (spec.job, result)
        };
        let fut = tracing::Instrument::instrument(fut, span);
        ctx.spawn(fut.into_actor(self).map(|(job, result), act, ctx| {
            act.reply_to.do_send(AttemptDone {
                job,
                result,
                permit: act.permit.take(),
            });
            ctx.stop();
        }));
    }
}

thread_local! {
    /// awc clients are `!Send`: one per thread, per SSRF mode.
    static CLIENTS: RefCell<[Option<Rc<awc::Client>>; 2]> = const { RefCell::new([None, None]) };
}

fn client(allow_private: bool) -> Rc<awc::Client> {
    CLIENTS.with(|c| {
        let mut slots = c.borrow_mut();
        let slot = &mut slots[usize::from(allow_private)];
        slot.get_or_insert_with(|| Rc::new(build_client(allow_private)))
            .clone()
    })
}

fn build_client(allow_private: bool) -> awc::Client {
    let tcp = TcpConnector::new(Resolver::custom(GuardedResolver { allow_private })).service();
    let connector = awc::Connector::new()
        .connector(tcp)
        .timeout(Duration::from_secs(5))
        .limit(2048);
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .timeout(Duration::from_secs(300))
        .finish()
}

/// The request headers of an attempt (signatures included; they reveal nothing of the
/// secret), or why they cannot be made (a sealed secret that does not open).
pub fn delivery_headers(
    spec: &AttemptSpec,
    timestamp: i64,
) -> Result<Vec<(String, String)>, crate::crypto::OpenError> {
    let sub = &spec.subscription;
    let body = spec.payload.as_bytes();
    let msg_id = spec.job.message_id.to_string();
    let secrets = sub.signing_secrets(&spec.keyring, Utc::now())?;
    let keys: Vec<Vec<u8>> = secrets.iter().map(|s| s.key_bytes()).collect();
    let extra = sub.extra_headers(&spec.keyring)?;
    let mut h: Vec<(String, String)> = vec![
        ("content-type".into(), "application/json".into()),
        (
            "user-agent".into(),
            format!("Courier/{}", env!("CARGO_PKG_VERSION")),
        ),
        ("webhook-id".into(), msg_id.clone()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        (
            "webhook-signature".into(),
            standard_signature_header(&keys, &msg_id, timestamp, body),
        ),
        (
            "x-hub-signature-256".into(),
            github_signature(&keys[0], body),
        ),
        (
            "x-courier-event-type".into(),
            spec.job.event_type.to_string(),
        ),
        ("x-courier-attempt".into(), spec.attempt_number.to_string()),
        (
            "x-courier-delivery-id".into(),
            spec.job.delivery_id.to_string(),
        ),
    ];
    h.extend(extra.iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
    Ok(h)
}

/// Sends one attempt and describes it. Never fails: every problem is an outcome.
pub async fn perform(spec: &AttemptSpec) -> (AttemptRecord, AttemptOutcome) {
    let attempted_at = Utc::now();
    let (headers, unsigned) = match delivery_headers(spec, attempted_at.timestamp()) {
        Ok(h) => (h, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let started = Instant::now();
    let result = match (
        unsigned,
        guard_literal(&spec.subscription.target_url, spec.allow_private),
    ) {
        (Some(e), _) => Err((
            ErrorClass::SecretUnavailable,
            format!("the subscription's secret cannot be opened: {e}"),
        )),
        (None, Err(blocked)) => Err((ErrorClass::BlockedTarget, blocked.to_string())),
        (None, Ok(())) => tokio::time::timeout(spec.timeout, send(spec, &headers))
            .await
            .unwrap_or_else(|_| {
                Err((
                    ErrorClass::Timeout,
                    format!("no complete answer within {:?}", spec.timeout),
                ))
            }),
    };
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    // Kept as JSON text: it is written as is, and a Value map would cost ~3x the memory
    // while outcomes wait for their batch.
    let headers_json = Value::Object(
        headers
            .into_iter()
            .map(|(k, v)| {
                let shown = if spec.credential_headers.is_credential(&k) {
                    crate::headers::mask(&v)
                } else {
                    v
                };
                (k, Value::String(shown))
            })
            .collect::<Map<_, _>>(),
    )
    .to_string();
    let mut record = AttemptRecord {
        id: Uuid::now_v7(),
        delivery_id: spec.job.delivery_id,
        attempt_number: spec.attempt_number,
        attempted_at,
        request_headers: headers_json,
        status_code: None,
        response_body: None,
        response_body_base64: None,
        response_headers: None,
        duration_ms,
        error_class: None,
        error_message: None,
        succeeded: false,
    };
    let outcome = match result {
        Ok(answer) => {
            let body = store_body(&answer.body);
            record.status_code = Some(i32::from(answer.status));
            record.response_body = Some(body.text);
            record.response_body_base64 = body.base64;
            record.response_headers = Some(answer.headers);
            if (200..300).contains(&answer.status) {
                record.succeeded = true;
                AttemptOutcome::Success {
                    status: answer.status,
                }
            } else {
                record.error_class = Some(ErrorClass::HttpStatus.as_str());
                record.error_message = Some(format!("receiver answered {}", answer.status));
                AttemptOutcome::HttpStatus {
                    status: answer.status,
                    retry_after: answer.retry_after,
                }
            }
        }
        Err((class, message)) => {
            record.error_class = Some(class.as_str());
            record.error_message = Some(pg_text(&message));
            AttemptOutcome::Failed { class }
        }
    };
    tracing::debug!(
        status = record.status_code,
        class = record.error_class,
        duration_ms,
        "attempt finished"
    );
    (record, outcome)
}

fn guard_literal(target: &str, allow_private: bool) -> Result<(), BlockedTarget> {
    let host = url::Url::parse(target)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()));
    match host {
        Some(url::Host::Ipv4(ip)) => check_literal(ip.into(), allow_private),
        Some(url::Host::Ipv6(ip)) => check_literal(ip.into(), allow_private),
        _ => Ok(()),
    }
}

struct Answer {
    status: u16,
    body: Vec<u8>,
    headers: String,
    retry_after: Option<Duration>,
}

async fn send(
    spec: &AttemptSpec,
    headers: &[(String, String)],
) -> Result<Answer, (ErrorClass, String)> {
    let client = client(spec.allow_private);
    let mut req = client
        .post(spec.subscription.target_url.as_str())
        .timeout(spec.timeout);
    for (k, v) in headers {
        req = req.insert_header((k.as_str(), v.as_str()));
    }
    let mut resp = req
        .send_body(spec.payload.as_bytes().to_vec())
        .await
        .map_err(|e| classify(&e))?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let headers = store_headers(
        resp.headers()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes())),
    );
    let body = read_prefix(&mut resp).await;
    Ok(Answer {
        status,
        body,
        headers,
        retry_after,
    })
}

/// The first [`RESPONSE_BODY_LIMIT`] bytes of the answer; the rest is not read. A body cut
/// short (reset mid-way) keeps what arrived.
async fn read_prefix<S, B, E>(mut payload: S) -> Vec<u8>
where
    S: futures_util::Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut buf: Vec<u8> = Vec::new();
    while buf.len() < RESPONSE_BODY_LIMIT {
        match payload.next().await {
            Some(Ok(chunk)) => {
                let chunk = chunk.as_ref();
                buf.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_BODY_LIMIT - buf.len())]);
            }
            _ => break,
        }
    }
    buf
}

fn classify(e: &SendRequestError) -> (ErrorClass, String) {
    let class = match e {
        SendRequestError::Timeout => ErrorClass::Timeout,
        SendRequestError::Connect(ConnectError::Resolver(inner))
            if inner.downcast_ref::<BlockedTarget>().is_some() =>
        {
            ErrorClass::BlockedTarget
        }
        SendRequestError::Connect(
            ConnectError::Resolver(_) | ConnectError::NoRecords | ConnectError::Unresolved,
        ) => ErrorClass::Dns,
        SendRequestError::Connect(ConnectError::Timeout) => ErrorClass::Timeout,
        SendRequestError::Connect(ConnectError::SslIsNotSupported) => ErrorClass::Tls,
        SendRequestError::Connect(ConnectError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            ErrorClass::Tls
        }
        // The receiver answered, but not with HTTP we can read (oversized or malformed head).
        SendRequestError::Response(_) | SendRequestError::H2(_) => ErrorClass::InvalidResponse,
        _ => ErrorClass::Connect,
    };
    (class, e.to_string())
}
