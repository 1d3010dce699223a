//! Ordinary traffic beside the hostile peers, and the checks every hostile test ends with:
//! each ordinary message was committed (202), delivered byte for byte, and its attempt is
//! recorded (`GET /deliveries/{id}` says `succeeded`); and nothing is left unfinished in
//! Postgres once the schedule has run out.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::support::{TestApp, eventually, id_of, task_of};

/// Settings every hostile test runs with: three attempts close together, a short timeout,
/// so a hostile receiver's deliveries end within seconds.
pub const FAST: [(&str, &str); 3] = [
    ("COURIER_RETRY_SCHEDULE", "100ms,200ms"),
    ("COURIER_DELIVERY_TIMEOUT", "1500ms"),
    ("COURIER_SWEEP_INTERVAL", "500ms"),
];

pub const WAIT: Duration = Duration::from_secs(30);

/// Courier in process with `extra` settings, and a client that drops pooled connections
/// after 2 s idle: Courier's server closes them after 5 s, and a connection reused at that
/// moment fails as `Disconnected` — a race of the test's client, not of Courier.
pub async fn spawn(extra: &[(&str, &str)]) -> TestApp {
    let mut app = TestApp::spawn_with(extra).await;
    app.client = awc::Client::builder()
        .connector(awc::Connector::new().conn_keep_alive(Duration::from_secs(2)))
        .timeout(Duration::from_secs(30))
        .finish();
    app
}

/// An ordinary message: which subscription, its task id and the exact bytes sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub subscription: String,
    pub task: String,
    pub body: Vec<u8>,
}

/// Creates a subscription to `url` (all event types) and returns its id.
pub async fn subscribe(app: &TestApp, url: &str) -> String {
    id_of(
        &app.create_subscription(json!({"target_url": url, "max_in_flight": 16}))
            .await,
    )
}

/// The `i`-th ordinary body for `tag`: small, distinct, and compact (so any form of it is
/// the same bytes).
pub fn body(tag: &str, i: usize) -> Vec<u8> {
    format!(
        "{{\"tag\":\"{tag}\",\"i\":{i},\"pad\":\"{}\"}}",
        "p".repeat(64)
    )
    .into_bytes()
}

/// Ingests `per_sub` ordinary messages to each of `subs`, all at once (raw form, API key);
/// every one must be answered 202.
pub async fn ingest_all(app: &TestApp, subs: &[&str], per_sub: usize) -> Vec<Sent> {
    let mut jobs = Vec::new();
    for i in 0..per_sub {
        for sub in subs {
            jobs.push(async move {
                let b = body(sub, i);
                let a = app.ingest(sub, "ordinary.event", &b).await;
                Sent {
                    subscription: (*sub).to_owned(),
                    task: task_of(&a),
                    body: b,
                }
            });
        }
    }
    join_all(jobs).await
}

/// Waits until every delivery is `succeeded`; checks its last attempt is recorded as a
/// success and returns the deliveries by task id.
pub async fn assert_delivered(app: &TestApp, sent: &[Sent]) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for s in sent {
        let d = app.wait_for_status(&s.task, "succeeded", WAIT).await;
        let last = d["attempts"]
            .as_array()
            .and_then(|a| a.last())
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(last["succeeded"], true, "{}: {d}", s.task);
        assert_eq!(last["status_code"], 200, "{}: {d}", s.task);
        out.insert(s.task.clone(), d);
    }
    out
}

/// The healthy receiver got every body sent to `sub`, byte for byte.
pub fn assert_received(rx: &Receiver, sent: &[Sent], sub: &str) {
    let got: Vec<Vec<u8>> = rx.requests().into_iter().map(|r| r.body).collect();
    for s in sent.iter().filter(|s| s.subscription == sub) {
        assert!(
            got.contains(&s.body),
            "the receiver never got {}",
            String::from_utf8_lossy(&s.body)
        );
    }
}

/// Waits until no delivery is `pending`, `delivering` or `retrying` (the hostile ones have
/// used up their schedule); panics naming what is left.
pub async fn assert_nothing_unfinished(app: &TestApp) {
    eventually("every delivery to finish", WAIT, || async {
        app.engine.flush().await;
        let left = unfinished(app).await;
        left.is_empty().then_some(())
    })
    .await;
}

/// `(id, status, next_attempt_at is past)` of every unfinished delivery.
pub async fn unfinished(app: &TestApp) -> Vec<(uuid::Uuid, String, bool)> {
    sqlx::query_as(
        "SELECT id, status, coalesce(next_attempt_at < now() - interval '2 seconds', false) \
         FROM deliveries WHERE status IN ('pending', 'delivering', 'retrying')",
    )
    .fetch_all(&app.db)
    .await
    .expect("unfinished deliveries")
}

/// The attempts of a delivery, in order.
pub fn attempts(delivery: &Value) -> Vec<Value> {
    delivery["attempts"].as_array().cloned().unwrap_or_default()
}
