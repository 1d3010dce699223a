//! The explorer: `GET /deliveries` and `GET /messages` across subscriptions with every
//! filter, subscription health (`/stats/subscriptions`, `/subscriptions/{id}/stats`), bulk
//! retry and cancel, and a JSON 4xx for every bad input.

use std::time::Duration;

use awc::http::StatusCode;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::receiver::{Behaviour, Receiver, Reply};
use crate::support::{TestApp, id_of, task_of};

const WAIT: Duration = Duration::from_secs(15);

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_owned())
        .collect()
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn subscription_to(app: &TestApp, rx: &Receiver) -> String {
    id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    )
}

/// Ingests one event and returns its delivery id.
async fn send(app: &TestApp, sub: &str, event_type: &str) -> String {
    task_of(&app.ingest(sub, event_type, b"{\"n\":1}").await)
}

#[actix_web::test]
async fn deliveries_of_every_subscription_are_listed_newest_first_and_filtered() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "20ms")]).await;
    let ok = Receiver::start().await;
    let bad = Receiver::start_with(Behaviour::always(Reply::status(503))).await;
    let (good_sub, bad_sub) = (
        subscription_to(&app, &ok).await,
        subscription_to(&app, &bad).await,
    );
    let before = now();
    let created = send(&app, &good_sub, "order.created").await;
    let paid = send(&app, &good_sub, "order.paid").await;
    let signup = send(&app, &bad_sub, "user.signup").await;
    for t in [&created, &paid] {
        app.wait_for_status(t, "succeeded", WAIT).await;
    }
    app.wait_for_status(&signup, "failed", WAIT).await;

    let all = app.get("/deliveries").await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    assert_eq!(
        ids(&all.body),
        vec![signup.clone(), paid.clone(), created.clone()]
    );
    let row = &all.body[0];
    assert_eq!(row["target_url"], bad.url("/"));
    assert_eq!(row["last_status_code"], 503);
    assert_eq!(row["attempt_count"], 2);
    assert!(
        row.get("payload").is_none() && row.get("attempts").is_none(),
        "compact rows"
    );

    let q = |query: &str| format!("/deliveries?{query}");
    assert_eq!(
        ids(&app.get(&q("event_type=order.*")).await.body),
        vec![paid.clone(), created.clone()]
    );
    assert_eq!(
        ids(&app.get(&q("event_type=order.paid")).await.body),
        vec![paid.clone()]
    );
    assert_eq!(ids(&app.get(&q("event_type=*")).await.body).len(), 3);
    assert_eq!(
        ids(&app.get(&q("status=failed")).await.body),
        vec![signup.clone()]
    );
    assert_eq!(
        ids(&app.get(&q("status=failed,succeeded")).await.body).len(),
        3
    );
    assert_eq!(
        ids(&app.get(&q("http_status=5xx")).await.body),
        vec![signup.clone()]
    );
    assert_eq!(ids(&app.get(&q("http_status=200")).await.body).len(), 2);
    assert_eq!(
        ids(&app
            .get(&q(&format!("subscription_id={good_sub}")))
            .await
            .body),
        vec![paid.clone(), created.clone()]
    );
    assert_eq!(
        ids(&app.get(&q(&format!("since={before}"))).await.body).len(),
        3
    );
    assert!(ids(&app.get(&q(&format!("until={before}"))).await.body).is_empty());

    // An id as the dashboard shows it (its random tail) and as a person types its start.
    let tail = format!("…{}", &paid.replace('-', "")[20..]);
    let by_tail = app.get(&q(&format!("id={}", urlencode(&tail)))).await;
    assert_eq!(ids(&by_tail.body), vec![paid.clone()], "{:?}", by_tail.body);
    assert_eq!(
        ids(&app.get(&q(&format!("id={paid}"))).await.body),
        vec![paid.clone()]
    );
    assert!(ids(&app.get(&q(&format!("id={}", &paid[..13]))).await.body).contains(&paid));

    let first = app.get(&q("limit=2")).await;
    assert_eq!(ids(&first.body), vec![signup.clone(), paid.clone()]);
    let cursor = first.header("x-next-cursor").expect("a next page");
    assert!(
        first
            .header("link")
            .is_some_and(|l| l.contains("rel=\"next\""))
    );
    let second = app.get(&q(&format!("limit=2&cursor={cursor}"))).await;
    assert_eq!(ids(&second.body), vec![created.clone()]);
    assert!(second.header("x-next-cursor").is_none());
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[actix_web::test]
async fn messages_are_listed_with_their_deliveries_counted() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let a = subscription_to(&app, &rx).await;
    let _b = subscription_to(&app, &rx).await;
    let fanout = app
        .post(
            "/events",
            &json!({"event_type": "invoice.paid", "payload": {"x": 1}}),
        )
        .await;
    assert_eq!(fanout.status, StatusCode::ACCEPTED, "{:?}", fanout.body);
    let direct = app.ingest(&a, "order.created", b"{}").await;
    app.engine.flush().await;
    rx.wait_for(3, WAIT).await;

    let list = app.get("/messages").await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    assert_eq!(list.body[0]["id"], direct.body["message_id"]);
    assert_eq!(list.body[0]["subscription_id"], a.as_str());
    assert_eq!(list.body[1]["id"], fanout.body["message_id"]);
    assert_eq!(list.body[1]["deliveries"]["total"], 2);
    assert!(list.body[1]["subscription_id"].is_null());

    let invoices = app.get("/messages?event_type=invoice.*").await;
    assert_eq!(
        ids(&invoices.body),
        vec![fanout.body["message_id"].as_str().expect("id").to_owned()]
    );
    let page = app.get("/messages?limit=1").await;
    assert!(page.header("x-next-cursor").is_some());
}

#[actix_web::test]
async fn stats_tell_first_attempt_success_from_eventual_success() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "20ms")]).await;
    let rx = Receiver::start_with(Behaviour::script(&[503], 200)).await;
    let sub = subscription_to(&app, &rx).await;
    let retried = send(&app, &sub, "a.b").await;
    app.wait_for_status(&retried, "succeeded", WAIT).await;
    for _ in 0..2 {
        let t = send(&app, &sub, "a.b").await;
        app.wait_for_status(&t, "succeeded", WAIT).await;
    }

    let one = app.get(&format!("/subscriptions/{sub}/stats")).await;
    assert_eq!(one.status, StatusCode::OK, "{:?}", one.body);
    let h = &one.body["health"];
    assert_eq!(h["deliveries"]["total"], 3);
    assert_eq!(h["deliveries"]["succeeded"], 3);
    assert_eq!(h["attempts"], 4);
    let first = h["first_attempt_success_rate"].as_f64().expect("a rate");
    assert!((first - 2.0 / 3.0).abs() < 1e-9, "{first}");
    assert_eq!(h["eventual_success_rate"], 1.0);
    assert_eq!(h["attempt_success_rate"], 0.75);
    assert!(h["latency"]["p50_ms"].is_number() && h["latency"]["p95_ms"].is_number());
    assert_eq!(h["last_status_code"], 200);
    assert_eq!(h["last_attempt_succeeded"], true);
    let series = one.body["series"].as_array().expect("series");
    let total: i64 = series
        .iter()
        .map(|b| b["succeeded"].as_i64().unwrap_or(0) + b["failed"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, 4);
    assert_eq!(one.body["bucket_seconds"], 900);

    let all = app.get("/stats/subscriptions").await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    let mine = &all.body["subscriptions"][0];
    assert_eq!(mine["subscription_id"], sub.as_str());
    assert_eq!(mine["attempts"], 4);

    let old = app
        .get(&format!(
            "/subscriptions/{sub}/stats?since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z"
        ))
        .await;
    assert_eq!(old.body["health"]["attempts"], 0);
    assert!(old.body["health"]["first_attempt_success_rate"].is_null());
}

#[actix_web::test]
async fn bulk_retry_requeues_the_failed_deliveries_and_holds_a_paused_subscriptions() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "20ms")]).await;
    let rx = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let sub = subscription_to(&app, &rx).await;
    let other = subscription_to(&app, &rx).await;
    let mut tasks = Vec::new();
    for _ in 0..3 {
        tasks.push(send(&app, &sub, "a.b").await);
    }
    let untouched = send(&app, &other, "a.b").await;
    for t in tasks.iter().chain([&untouched]) {
        app.wait_for_status(t, "failed", WAIT).await;
    }
    rx.set(Behaviour::always(Reply::status(200)));

    let answer = app
        .post(
            "/deliveries/retry",
            &json!({"subscription_id": sub, "status": "failed"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);
    assert_eq!(
        answer.body,
        json!({"matched": 3, "requeued": 3, "truncated": false, "cap": 10000})
    );
    for t in &tasks {
        app.wait_for_status(t, "succeeded", WAIT).await;
    }
    assert_eq!(app.delivery(&untouched).await["status"], "failed");

    let paused = app
        .call("POST", &format!("/subscriptions/{other}/pause"), None)
        .await;
    assert_eq!(paused.status, StatusCode::OK);
    let held = app
        .post("/deliveries/retry", &json!({"subscription_id": other}))
        .await;
    assert_eq!(held.body["requeued"], 1, "{:?}", held.body);
    app.wait_for_status(&untouched, "paused", WAIT).await;
}

#[actix_web::test]
async fn bulk_cancel_fails_the_deliveries_waiting_for_a_retry() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "1h")]).await;
    let rx = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let sub = subscription_to(&app, &rx).await;
    let waiting = send(&app, &sub, "a.b").await;
    app.wait_for_status(&waiting, "retrying", WAIT).await;
    let since =
        (Utc::now() - chrono::Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);

    let answer = app
        .post(
            "/deliveries/cancel",
            &json!({"since": since, "event_type": "a.*"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);
    assert_eq!(answer.body["cancelled"], 1);
    assert_eq!(answer.body["matched"], 1);
    let d = app.delivery(&waiting).await;
    assert_eq!(d["status"], "failed");
    assert_eq!(d["last_error"], "cancelled by operator");
    assert!(d["next_attempt_at"].is_null());

    let again = app
        .post("/deliveries/cancel", &json!({"subscription_id": sub}))
        .await;
    assert_eq!(
        again.body["cancelled"], 0,
        "finished deliveries are not cancelled again"
    );
}

#[actix_web::test]
async fn every_bad_explorer_input_gets_a_json_4xx() {
    let app = TestApp::spawn().await;
    let sub = "01938a6e-7d1c-7b3e-9f00-000000000001";
    let bad_gets = [
        "/deliveries?subscription_id=nope",
        "/deliveries?since=yesterday",
        "/deliveries?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
        "/deliveries?event_type=ord*er",
        "/deliveries?status=lost",
        "/deliveries?http_status=7xx",
        "/deliveries?limit=0",
        "/deliveries?limit=501",
        "/deliveries?limit=ten",
        "/deliveries?cursor=zzz",
        "/deliveries?id=xyz",
        "/messages?event_type=a..b",
        "/messages?until=tomorrow",
        "/stats/subscriptions?since=2020-01-01T00:00:00Z&until=2020-03-01T00:00:00Z",
        "/subscriptions/not-a-uuid/stats",
    ];
    for path in bad_gets {
        let a = app.get(path).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {:?}", a.body);
        assert!(
            !a.code().is_empty() && a.body["message"].is_string(),
            "{path}: {:?}",
            a.body
        );
    }
    let missing = app.get(&format!("/subscriptions/{sub}/stats")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{:?}", missing.body);

    let bad_bodies: [&[u8]; 5] = [
        b"",
        b"{}",
        b"{\"status\": \"failed\"}",
        b"{\"subscription\": \"x\", \"since\": \"2026-01-01T00:00:00Z\"}",
        b"{not json",
    ];
    for path in ["/deliveries/retry", "/deliveries/cancel"] {
        for body in bad_bodies {
            let a = app.call("POST", path, Some(body)).await;
            assert_eq!(
                a.status,
                StatusCode::BAD_REQUEST,
                "{path} {:?}: {:?}",
                String::from_utf8_lossy(body),
                a.body
            );
            assert!(a.body["message"].is_string());
        }
        let unauthenticated = app
            .call_with(
                "POST",
                path,
                Some(b"{}"),
                &[("Authorization", "Bearer wrong")],
            )
            .await;
        assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    }
    let no_key = app
        .call_with("GET", "/deliveries", None, &[("Authorization", "")])
        .await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn the_search_narrows_to_one_application_that_the_caller_reaches() {
    let app = TestApp::spawn().await;
    let mut subs = Vec::new();
    for uid in ["acme", "globex"] {
        app.create_application(uid).await;
        let s = app
            .post(
                &format!("/applications/{uid}/subscriptions"),
                &json!({"target_url": "http://127.0.0.1:9/x"}),
            )
            .await;
        subs.push(s.body["id"].as_str().expect("id").to_owned());
        let sent = app
            .post(
                &format!("/applications/{uid}/events"),
                &json!({"event_type": "order.created", "payload": {}}),
            )
            .await;
        assert_eq!(sent.status, StatusCode::ACCEPTED);
    }
    let all = app.get("/deliveries").await;
    assert_eq!(all.body.as_array().map(Vec::len), Some(2));
    let acme = app.get("/deliveries?application=acme").await;
    let rows = acme.body.as_array().expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["subscription_id"], subs[0].as_str());
    assert_eq!(
        app.get("/deliveries?application=nope").await.status,
        StatusCode::NOT_FOUND
    );
    let (_, key) = app
        .create_key(json!({"name": "g", "scope": "application", "application": "globex"}))
        .await;
    let other = app
        .call_as("GET", "/deliveries?application=acme", None, &key)
        .await;
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "another application's log"
    );
}
