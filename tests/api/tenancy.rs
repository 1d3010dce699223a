//! The tenancy isolation suite: two applications, each with its own key, and every route
//! tried with the other application's key (and with a revoked key). No answer may be a
//! 2xx for another application's object, and no list, count or stream may show anything of
//! it.

use std::time::Duration;

use awc::http::StatusCode;
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::receiver::{Behaviour, Receiver, Reply};
use crate::support::{Answer, TestApp, eventually, id_of, task_of};

const WAIT: Duration = Duration::from_secs(10);

/// One tenant: its application, key, a subscription, a delivery and a message.
struct Side {
    uid: &'static str,
    key: String,
    sub: String,
    delivery: String,
    message: String,
}

async fn side(app: &TestApp, uid: &'static str, rx: &Receiver) -> Side {
    app.create_application(uid).await;
    let (_, key) = app
        .create_key(json!({"name": uid, "scope": "application", "application": uid}))
        .await;
    let body = json!({"target_url": rx.url(&format!("/{uid}")), "event_types": ["order.*"]});
    let created = app
        .call_as("POST", "/subscriptions", Some(&body), &key)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let sub = id_of(&created.body);
    let event = json!({"event_type": "order.created", "payload": {"tenant": uid}});
    let sent = app.call_as("POST", "/events", Some(&event), &key).await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{:?}", sent.body);
    let delivery = sent.body["task_id"][0]
        .as_str()
        .expect("one delivery")
        .to_owned();
    let message = sent.body["message_id"]
        .as_str()
        .expect("message")
        .to_owned();
    Side {
        uid,
        key,
        sub,
        delivery,
        message,
    }
}

/// Every route that names an object of `other`, each way it can be reached.
fn routes_on(other: &Side) -> Vec<(&'static str, String)> {
    let (s, d, m, u) = (&other.sub, &other.delivery, &other.message, other.uid);
    let mut out = Vec::new();
    for prefix in [String::new(), format!("/applications/{u}")] {
        for (method, tail) in [
            ("GET", format!("/subscriptions/{s}")),
            ("PUT", format!("/subscriptions/{s}")),
            ("PATCH", format!("/subscriptions/{s}")),
            ("DELETE", format!("/subscriptions/{s}")),
            ("POST", format!("/subscriptions/{s}/pause")),
            ("POST", format!("/subscriptions/{s}/resume")),
            ("POST", format!("/subscriptions/{s}/rotate-secret")),
            ("POST", format!("/subscriptions/{s}/test")),
            ("GET", format!("/subscriptions/{s}/deliveries")),
            ("GET", format!("/subscriptions/{s}/recent-deliveries")),
            (
                "POST",
                format!("/subscriptions/{s}/recover?since=2020-01-01T00:00:00Z"),
            ),
            ("GET", format!("/deliveries/{d}")),
            ("GET", format!("/webhooks/status/{d}")),
            ("POST", format!("/deliveries/{d}/retry")),
            ("GET", format!("/messages/{m}")),
        ] {
            out.push((method, format!("{prefix}{tail}")));
        }
    }
    for (method, path) in [
        ("GET", format!("/applications/{u}")),
        ("GET", format!("/applications/{u}/subscriptions")),
        ("POST", format!("/applications/{u}/subscriptions")),
        ("GET", format!("/applications/{u}/deliveries")),
        ("POST", format!("/applications/{u}/events")),
        ("GET", format!("/applications/{u}/stats/overview")),
        ("PATCH", format!("/applications/{u}")),
        ("DELETE", format!("/applications/{u}")),
        ("POST", format!("/ingest/{s}?event_type=order.created")),
        ("POST", format!("/webhooks/ingest/{s}")),
    ] {
        out.push((method, path));
    }
    out
}

fn body_for(path: &str) -> Value {
    if path.contains("/webhooks/ingest/") || path.ends_with("/events") {
        json!({"event_type": "order.created", "payload": {"x": 1}})
    } else {
        json!({"target_url": "https://e.com/x", "name": "x", "description": "x"})
    }
}

#[actix_web::test]
async fn no_route_lets_one_applications_key_reach_anothers_objects() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let (a, b) = (
        side(&app, "acme", &rx).await,
        side(&app, "globex", &rx).await,
    );
    rx.wait_for(2, WAIT).await;
    let before = app.snapshot().await;
    for (attacker, victim) in [(&a, &b), (&b, &a)] {
        for (method, path) in routes_on(victim) {
            let r = app
                .call_as(method, &path, Some(&body_for(&path)), &attacker.key)
                .await;
            assert!(
                !r.status.is_success(),
                "{method} {path} with {}'s key answered {}: {:?}",
                attacker.uid,
                r.status,
                r.body
            );
            assert!(
                matches!(r.status.as_u16(), 403 | 404),
                "{method} {path}: {} {:?}",
                r.status,
                r.body
            );
            assert!(
                !r.raw.windows(36).any(|w| w == victim.sub.as_bytes()),
                "{path} leaks the id"
            );
        }
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "nothing of the other application changed"
    );
}

fn ids_in(a: &Answer, field: &str) -> Vec<String> {
    a.body
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|x| x[field].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn lists_counts_and_fan_out_stay_within_the_keys_application() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let (a, b) = (
        side(&app, "acme", &rx).await,
        side(&app, "globex", &rx).await,
    );
    let subs = app.call_as("GET", "/subscriptions", None, &a.key).await;
    assert_eq!(ids_in(&subs, "id"), vec![a.sub.clone()]);
    let log = app
        .call_as("GET", "/applications/acme/deliveries", None, &a.key)
        .await;
    assert_eq!(ids_in(&log, "id"), vec![a.delivery.clone()]);
    // The fan-out of A's events reached A's subscription only.
    let got = rx.wait_for(2, WAIT).await;
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert!(
        paths.contains(&"/acme") && paths.contains(&"/globex"),
        "{paths:?}"
    );
    assert_eq!(got.len(), 2, "each event went to its own application only");
    let o = app.call_as("GET", "/stats/overview", None, &a.key).await;
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!(o.body["subscriptions"]["active"], 1, "{:?}", o.body);
    // The admin sees both; the default application has neither.
    let all = app.get("/stats/overview").await;
    assert_eq!(all.body["subscriptions"]["active"], 2);
    assert!(ids_in(&app.get("/subscriptions").await, "id").is_empty());
    let scoped = app.get("/applications/globex/subscriptions").await;
    assert_eq!(ids_in(&scoped, "id"), vec![b.sub.clone()]);
}

/// Reads the live stream for `ms` and returns its raw text.
async fn stream_for(app: &TestApp, key: &str, ms: u64, during: impl std::future::Future) -> String {
    let client = awc::Client::default();
    let mut resp = client
        .get(app.url("/stream"))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .send()
        .await
        .expect("stream opens");
    assert_eq!(resp.status(), StatusCode::OK);
    let reading = async {
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, resp.next()).await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        text
    };
    let (text, _) = tokio::join!(reading, during);
    text
}

#[actix_web::test]
async fn the_live_stream_of_an_application_key_shows_only_its_own_attempts() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let (a, b) = (
        side(&app, "acme", &rx).await,
        side(&app, "globex", &rx).await,
    );
    rx.wait_for(2, WAIT).await;
    let trigger = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for s in [&a, &b] {
            let e = json!({"event_type": "order.updated", "payload": {"t": s.uid}});
            app.call_as("POST", "/events", Some(&e), &s.key).await;
        }
    };
    let seen = stream_for(&app, &a.key, 2_500, trigger).await;
    assert!(seen.contains(&a.sub), "A sees its own attempt: {seen}");
    assert!(!seen.contains(&b.sub), "A never sees B's: {seen}");
}

#[actix_web::test]
async fn a_revoked_key_is_refused_everywhere() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let a = side(&app, "acme", &rx).await;
    let keys = app.get("/api-keys").await;
    let key_id = ids_in(&keys, "id").pop().expect("a key");
    let revoked = app
        .call("DELETE", &format!("/api-keys/{key_id}"), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let mut routes = routes_on(&a);
    routes.extend([
        ("GET", "/subscriptions".to_owned()),
        ("POST", "/events".to_owned()),
        ("GET", "/stream".to_owned()),
        ("GET", "/stats/overview".to_owned()),
    ]);
    for (method, path) in routes {
        if path.starts_with("/ingest/") || path.starts_with("/webhooks/ingest/") {
            continue; // signature-authenticated routes are covered by the ingest tests
        }
        let r = app
            .call_as(method, &path, Some(&body_for(&path)), &a.key)
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {:?}",
            r.body
        );
    }
}

#[actix_web::test]
async fn secrets_and_credential_headers_are_sealed_at_rest_and_masked_in_every_answer() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let token = "Bearer partner-token-0123456789";
    let created = app
        .create_subscription(
            json!({"target_url": rx.url("/"), "secret": "very-secret-value",
            "headers": {"Authorization": token, "X-Team": "erp"}}),
        )
        .await;
    let id = id_of(&created);
    assert_eq!(
        created["secret"], "very-secret-value",
        "shown once, at creation"
    );
    assert_eq!(created["headers"]["x-team"], "erp");
    assert_ne!(
        created["headers"]["authorization"], token,
        "masked even in the creation answer"
    );
    let (secret, sealed, plain): (String, Option<String>, Value) = sqlx::query_as(
        "SELECT secret, headers_sealed, headers::json FROM subscriptions WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&app.db)
    .await
    .expect("row");
    assert!(secret.starts_with("enc:v1:") && !secret.contains("very-secret"));
    let sealed = sealed.expect("headers are sealed");
    assert!(!sealed.contains("partner-token") && !sealed.contains("erp"));
    assert_eq!(plain, json!({}), "nothing in clear in the old column");
    // Redis: every cached version of the row.
    let pool = courier_actors::cache::redis_pool(&crate::support::redis_url(), 2).expect("url");
    let mut conn = pool.get().await.expect("redis");
    let keys: Vec<String> = bb8_redis::redis::cmd("KEYS")
        .arg(format!("{}sub:{id}:*", app.redis_prefix))
        .query_async(&mut *conn)
        .await
        .expect("keys");
    assert!(!keys.is_empty(), "the row is cached");
    for k in keys {
        let v: String = bb8_redis::redis::cmd("GET")
            .arg(&k)
            .query_async(&mut *conn)
            .await
            .expect("get");
        assert!(
            !v.contains("very-secret") && !v.contains("partner-token"),
            "{k} holds a secret"
        );
    }
    // Deliveries send the real header; the log, the API and the list show it masked.
    let task = task_of(
        &app.ingest_signed(&id, "a.b", "very-secret-value", b"{}")
            .await,
    );
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].header("authorization"), Some(token));
    let d = app.wait_for_status(&task, "succeeded", WAIT).await;
    let shown = d["attempts"][0]["request_headers"]["authorization"]
        .as_str()
        .unwrap_or("");
    assert!(
        shown.ends_with("***") && !shown.contains("partner"),
        "{shown}"
    );
    let raw: Value = sqlx::query_scalar("SELECT request_headers FROM attempts LIMIT 1")
        .fetch_one(&app.db)
        .await
        .expect("attempt");
    assert!(
        !raw.to_string().contains("partner-token"),
        "the stored log is masked: {raw}"
    );
    for r in [
        app.get(&format!("/subscriptions/{id}")).await,
        app.get("/subscriptions").await,
    ] {
        assert!(
            !r.raw.windows(13).any(|w| w == b"partner-token"),
            "{:?}",
            r.body
        );
        assert!(
            !r.raw.windows(11).any(|w| w == b"very-secret"),
            "{:?}",
            r.body
        );
    }
    // Writing back the masked value keeps the credential.
    let shown_headers = app.get(&format!("/subscriptions/{id}")).await.body["headers"].clone();
    let patched = app
        .call(
            "PATCH",
            &format!("/subscriptions/{id}"),
            Some(json!({"headers": shown_headers}).to_string().as_bytes()),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    app.ingest_signed(&id, "a.b", "very-secret-value", b"{}")
        .await;
    let again = rx.wait_for(2, WAIT).await;
    assert_eq!(again[1].header("authorization"), Some(token));
}

#[actix_web::test]
async fn operational_events_reach_the_ops_application_once_per_streak_without_secrets() {
    let app = TestApp::spawn_with(&[
        ("COURIER_FAILING_AFTER", "2"),
        ("COURIER_RETRY_SCHEDULE", "50ms,50ms,50ms"),
    ])
    .await;
    let ops_rx = Receiver::start().await;
    let body =
        json!({"target_url": ops_rx.url("/ops"), "event_types": ["subscription.*", "delivery.*"]});
    let ops = app
        .post("/applications/courier-ops/subscriptions", &body)
        .await;
    assert_eq!(ops.status, StatusCode::CREATED, "{:?}", ops.body);
    let bad = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let created = app
        .create_subscription(
            json!({"target_url": format!("{}?token=hidden-token", bad.url("/")),
            "secret": "ops-secret-123", "description": "erp"}),
        )
        .await;
    let id = id_of(&created);
    app.ingest_signed(&id, "a.b", "ops-secret-123", b"{}").await;
    let kinds = |want: usize| {
        let ops_rx = &ops_rx;
        async move {
            eventually("ops events", WAIT, || async {
                let got = ops_rx.requests();
                (got.len() >= want).then_some(got)
            })
            .await
        }
    };
    let got = kinds(3).await;
    let types: Vec<String> = got
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).expect("json")["type"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert!(
        types.contains(&"subscription.created".to_owned()),
        "{types:?}"
    );
    assert!(
        types.contains(&"delivery.exhausted".to_owned()),
        "{types:?}"
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "subscription.failing")
            .count(),
        1,
        "{types:?}"
    );
    bad.set(Behaviour::always(Reply::status(200)));
    app.ingest_signed(&id, "a.b", "ops-secret-123", b"{}").await;
    let got = kinds(got.len() + 1).await;
    let all: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    assert!(
        all.iter().any(|e| e["type"] == "subscription.recovered"),
        "{all:?}"
    );
    for e in &all {
        let text = e.to_string();
        assert!(
            !text.contains("ops-secret") && !text.contains("hidden-token"),
            "{text}"
        );
        assert!(e["webhook"].is_null());
    }
    assert!(
        got.iter().all(|r| r.header("webhook-signature").is_some()),
        "signed like any delivery"
    );
    bad.set(Behaviour::always(Reply::status(410)));
    app.ingest_signed(&id, "a.b", "ops-secret-123", b"{}").await;
    let got = kinds(got.len() + 1).await;
    let disabled: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).expect("json"))
        .filter(|e| e["type"] == "subscription.disabled")
        .collect();
    assert_eq!(disabled.len(), 1, "{got:?}");
    assert!(disabled[0]["reason"].as_str().unwrap_or("").contains("410"));
}

#[actix_web::test]
async fn the_ops_webhook_setting_becomes_a_courier_ops_subscription() {
    let ops_rx = Receiver::start().await;
    let url = ops_rx.url("/hook");
    let app = TestApp::spawn_with(&[("COURIER_OPS_WEBHOOK_URL", &url)]).await;
    let subs = eventually("the managed ops subscription", WAIT, || async {
        let s = app.get("/applications/courier-ops/subscriptions").await;
        (!ids_in(&s, "id").is_empty()).then_some(s)
    })
    .await;
    assert_eq!(subs.body[0]["target_url"], url);
    app.create_subscription(json!({"target_url": "https://e.com/a"}))
        .await;
    let got = ops_rx.wait_for(1, WAIT).await;
    let e: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert_eq!(e["type"], "subscription.created");
}
