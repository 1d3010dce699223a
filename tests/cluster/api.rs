//! The suite's HTTP calls to the nodes: subscriptions (create, change, pause, resume),
//! signed per-subscription ingests, `/events` fan-outs and `/metrics`.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::infra::API_KEY;

/// A subscription the suite made: its index (the receiver path `/s/<index>`), id, secret and
/// shard.
#[derive(Debug, Clone)]
pub struct Sub {
    pub index: usize,
    pub id: Uuid,
    pub secret: String,
    pub shard: u16,
}

/// An answer, or why there was none.
pub type Answer = Result<(u16, Value), String>;

pub fn client(timeout: Duration) -> awc::Client {
    awc::Client::builder().timeout(timeout).finish()
}

fn bearer() -> String {
    format!("Bearer {API_KEY}")
}

pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key");
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

async fn read<S>(sent: Result<awc::ClientResponse<S>, awc::error::SendRequestError>) -> Answer
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut r = sent.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.body().limit(1 << 20).await.map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// A management call with the API key.
pub async fn call(
    c: &awc::Client,
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let method = awc::http::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let req = c
        .request(method, format!("{base}{path}"))
        .insert_header(("Authorization", bearer()));
    match body {
        Some(b) => read(req.send_json(&b).await).await,
        None => read(req.send().await).await,
    }
}

/// Creates a subscription delivering to `target` for `event_types`.
pub async fn create(base: &str, index: usize, target: &str, event_types: &[String]) -> Sub {
    let secret = format!("secret-{index}-{}", Uuid::new_v4().simple());
    let body = json!({"target_url": format!("{target}/s/{index}"), "secret": secret,
        "event_types": event_types, "max_in_flight": 16});
    let (status, v) = call(
        &client(Duration::from_secs(10)),
        base,
        "POST",
        "/subscriptions",
        Some(body),
    )
    .await
    .expect("create answers");
    assert_eq!(status, 201, "create: {v}");
    let id: Uuid = v["id"].as_str().and_then(|s| s.parse().ok()).expect("id");
    Sub {
        index,
        id,
        secret,
        shard: courier_actors::domain::shard_of(id),
    }
}

/// `POST /ingest/{id}?event_type=...`, signed with `secret`.
pub async fn ingest(
    c: &awc::Client,
    base: &str,
    sub: &Sub,
    secret: &str,
    event_type: &str,
    body: &[u8],
) -> Answer {
    let sent = c
        .post(format!("{base}/ingest/{}?event_type={event_type}", sub.id))
        .insert_header(("X-Hub-Signature-256", hub_signature(secret, body)))
        .insert_header(("Content-Type", "application/json"))
        .send_body(body.to_vec())
        .await;
    read(sent).await
}

/// `POST /events`.
pub async fn fan_out(c: &awc::Client, base: &str, event_type: &str, payload: Value) -> Answer {
    let body = json!({"event_type": event_type, "payload": payload});
    call(c, base, "POST", "/events", Some(body)).await
}

/// Delivery ids an accepted ingest created that will be delivered (pending or held), with
/// their subscriptions; `None` for the per-subscription form's own subscription.
pub fn deliveries_of(answer: &Value) -> Vec<(String, Option<Uuid>)> {
    if let Some(list) = answer["deliveries"].as_array() {
        return list
            .iter()
            .filter(|d| matches!(d["status"].as_str(), Some("pending" | "paused")))
            .filter_map(|d| {
                Some((
                    d["task_id"].as_str()?.to_owned(),
                    d["subscription_id"].as_str()?.parse().ok(),
                ))
            })
            .collect();
    }
    match (answer["status"].as_str(), answer["delivery_id"].as_str()) {
        (Some("accepted" | "paused"), Some(id)) => vec![(id.to_owned(), None)],
        _ => Vec::new(),
    }
}

/// The sum of a counter over every label set in a node's `/metrics` (0 when unreachable).
pub async fn counter(base: &str, name: &str) -> f64 {
    let Ok(mut r) = client(Duration::from_secs(3))
        .get(format!("{base}/metrics"))
        .send()
        .await
    else {
        return 0.0;
    };
    let Ok(body) = r.body().limit(8 << 20).await else {
        return 0.0;
    };
    String::from_utf8_lossy(&body)
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
