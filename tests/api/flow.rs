//! Flow control per subscription: content filters, its own retry schedule, ordering keys
//! (strict per-key order, parallel keys, across a restart) and skipping a stuck delivery.

use std::collections::HashMap;
use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::receiver::{Behaviour, Receiver, Reply};
use crate::support::{TestApp, eventually, id_of, task_of};

const WAIT: Duration = Duration::from_secs(15);

#[actix_web::test]
async fn a_content_filter_takes_matching_events_and_records_the_rest_as_filtered() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let filter = json!({"payload": {"amount": {"$gte": 100}, "currency": {"$in": ["EUR", "USD"]}}});
    let sub = app
        .create_subscription(json!({"target_url": rx.url("/"), "filter": filter}))
        .await;
    assert_eq!(sub["filter"], filter);
    let id = id_of(&sub);
    let small = app
        .ingest(
            &id,
            "order.created",
            br#"{"amount": 50, "currency": "EUR"}"#,
        )
        .await;
    assert_eq!(small.body["status"], "filtered", "{:?}", small.body);
    assert!(
        small.body["message"]
            .as_str()
            .unwrap_or("")
            .contains("content filter"),
        "the answer says why: {:?}",
        small.body
    );
    let big = app
        .ingest(
            &id,
            "order.created",
            br#"{"amount": 150, "currency": "EUR"}"#,
        )
        .await;
    assert_eq!(big.body["status"], "accepted");
    let fan = app
        .post(
            "/events",
            &json!({"event_type": "x.y", "payload": {"amount": 1, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(fan.body["deliveries"][0]["status"], "filtered");
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].body, br#"{"amount": 150, "currency": "EUR"}"#);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 1, "filtered events are never sent");
    let d = app.delivery(&task_of(&small)).await;
    assert_eq!(d["status"], "filtered");
    // Headers are matched too, and a PATCH to null takes everything again.
    let by_header = json!({"filter": {"headers": {"x-tenant": "acme"}}});
    let p = app
        .call(
            "PATCH",
            &format!("/subscriptions/{id}"),
            Some(by_header.to_string().as_bytes()),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    let tagged = app
        .call_with(
            "POST",
            &format!("/ingest/{id}?event_type=a.b"),
            Some(b"{}"),
            &[
                ("Authorization", &crate::support::auth_header()),
                ("X-Tenant", "acme"),
            ],
        )
        .await;
    assert_eq!(tagged.body["status"], "accepted");
    let cleared = app
        .call(
            "PATCH",
            &format!("/subscriptions/{id}"),
            Some(br#"{"filter": null}"#),
        )
        .await;
    assert_eq!(cleared.body["filter"], Value::Null);
    let any = app.ingest(&id, "a.b", br#"{"amount": 1}"#).await;
    assert_eq!(any.body["status"], "accepted");
}

#[actix_web::test]
async fn a_bad_filter_or_retry_schedule_is_refused_naming_what_is_wrong() {
    let app = TestApp::spawn().await;
    let before = app.snapshot().await;
    for (body, names) in [
        (
            json!({"target_url": "https://e.com/", "filter": {"payload": {"amount": {"$gt": [1]}}}}),
            "filter.payload.amount.$gt",
        ),
        (
            json!({"target_url": "https://e.com/", "filter": {"$or": {"a": 1}}}),
            "filter.$or",
        ),
        (
            json!({"target_url": "https://e.com/", "filter": "amount > 1"}),
            "filter",
        ),
        (
            json!({"target_url": "https://e.com/", "retry_schedule": ["10s", "8d"]}),
            "retry_schedule[1]",
        ),
        (
            json!({"target_url": "https://e.com/", "retry_schedule": ["soon"]}),
            "retry_schedule[0]",
        ),
        (
            json!({"target_url": "https://e.com/", "retry_schedule": vec!["1s"; 21]}),
            "retry_schedule",
        ),
    ] {
        let r = app.post("/subscriptions", &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        let msg = r.body["message"].as_str().unwrap_or("");
        assert!(msg.contains(names), "{body}: {msg}");
    }
    assert_eq!(app.snapshot().await, before, "nothing stored");
}

#[actix_web::test]
async fn a_subscriptions_own_retry_schedule_replaces_the_servers() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "1h")]).await;
    let rx = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let sub = app
        .create_subscription(
            json!({"target_url": rx.url("/"), "retry_schedule": ["50ms", "100ms"]}),
        )
        .await;
    assert_eq!(sub["retry_schedule"], json!(["50ms", "100ms"]));
    let task = task_of(&app.ingest(&id_of(&sub), "a.b", b"{}").await);
    let d = app.wait_for_status(&task, "failed", WAIT).await;
    assert_eq!(
        d["attempt_count"], 3,
        "two retries, then failed (not an hour later)"
    );
}

/// `(key, sequence number)` of every request, in arrival order.
fn arrivals(rx: &Receiver) -> Vec<(String, u64)> {
    rx.requests()
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).expect("json");
            (
                v["key"].as_str().unwrap_or("").to_owned(),
                v["seq"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[actix_web::test]
async fn deliveries_of_one_key_arrive_strictly_in_order_across_a_restart_while_keys_go_in_parallel()
{
    let mut app = TestApp::spawn_with(&[(
        "COURIER_RETRY_SCHEDULE",
        "20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms",
    )])
    .await;
    // Slow enough answers that keys overlap; about 30 % are 500s, so keys wait on retries.
    let rx = Receiver::start_with(Behaviour::flaky(30, Reply::stall(40, 200))).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/"), "max_in_flight": 8}))
            .await,
    );
    let keys = ["k0", "k1", "k2", "k3", "k4"];
    let mut tasks = Vec::new();
    for seq in 0..50u64 {
        if seq == 25 {
            app.stop().await;
            app.start_again().await;
        }
        for (i, key) in keys.iter().enumerate() {
            // The three ways to give a key: query parameter, header, envelope field.
            let body = json!({"key": key, "seq": seq});
            let a = match i % 3 {
                0 => {
                    app.ingest(
                        &id,
                        &format!("a.b&ordering_key={key}"),
                        body.to_string().as_bytes(),
                    )
                    .await
                }
                1 => {
                    app.call_with(
                        "POST",
                        &format!("/ingest/{id}?event_type=a.b"),
                        Some(body.to_string().as_bytes()),
                        &[
                            ("Authorization", &crate::support::auth_header()),
                            ("X-Courier-Ordering-Key", key),
                        ],
                    )
                    .await
                }
                _ => {
                    app.call(
                        "POST",
                        &format!("/webhooks/ingest/{id}"),
                        Some(
                            json!({"event_type": "a.b", "payload": body, "ordering_key": key})
                                .to_string()
                                .as_bytes(),
                        ),
                    )
                    .await
                }
            };
            assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
            tasks.push(task_of(&a));
        }
    }
    for t in &tasks {
        app.wait_for_status(t, "succeeded", Duration::from_secs(60))
            .await;
    }
    let mut last: HashMap<String, u64> = HashMap::new();
    for (key, seq) in arrivals(&rx) {
        let prev = last.insert(key.clone(), seq).unwrap_or(0);
        assert!(seq >= prev, "{key}: {seq} arrived after {prev}");
    }
    assert!(rx.max_concurrent() > 1, "different keys went in parallel");
}

#[actix_web::test]
async fn skipping_a_stuck_delivery_releases_its_key_at_once() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "1h")]).await;
    let rx = Receiver::start_with(Behaviour {
        script: [Reply::status(500)].into(),
        default: Reply::status(200),
        flaky_percent: 0,
    })
    .await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let first = task_of(
        &app.ingest(&id, "a.b&ordering_key=acct-7", br#"{"seq": 0}"#)
            .await,
    );
    app.wait_for_status(&first, "retrying", WAIT).await;
    assert_eq!(app.delivery(&first).await["ordering_key"], "acct-7");
    let second = task_of(
        &app.ingest(&id, "a.b&ordering_key=acct-7", br#"{"seq": 1}"#)
            .await,
    );
    let other = task_of(
        &app.ingest(&id, "a.b&ordering_key=acct-8", br#"{"seq": 9}"#)
            .await,
    );
    app.wait_for_status(&other, "succeeded", WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.delivery(&second).await["status"],
        "pending",
        "held behind the retrying first"
    );
    let s = app
        .call("POST", &format!("/deliveries/{first}/skip"), None)
        .await;
    assert_eq!(s.status, StatusCode::ACCEPTED, "{:?}", s.body);
    assert_eq!(s.body["status"], "failed");
    app.wait_for_status(&second, "succeeded", WAIT).await;
    let again = app
        .call("POST", &format!("/deliveries/{first}/skip"), None)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let bad = app
        .ingest(&id, &format!("a.b&ordering_key={}", "k".repeat(257)), b"{}")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    eventually(
        "nothing else arrives for the key",
        Duration::from_secs(2),
        || async { (rx.count() == 3).then_some(()) },
    )
    .await;
}

#[actix_web::test]
async fn a_healthy_subscription_starts_at_once_while_stalled_ones_hold_their_share() {
    // 12 subscriptions whose receiver stalls past their timeout could hold 12 × 16 = 192
    // attempts; the node has 64. First come, first served, the healthy one would wait for
    // their timeouts (2 s); shared fairly, it finds a free permit at once.
    let app = TestApp::spawn_with(&[
        ("COURIER_MAX_ATTEMPTS_IN_FLIGHT", "64"),
        ("COURIER_RETRY_SCHEDULE", "1h"),
    ])
    .await;
    let stalled_rx = Receiver::start_with(Behaviour::always(Reply::stall(3_000, 200))).await;
    let mut stalled = Vec::new();
    for _ in 0..12 {
        let body =
            json!({"target_url": stalled_rx.url("/"), "max_in_flight": 16, "timeout_ms": 2000});
        stalled.push(id_of(&app.create_subscription(body).await));
    }
    for id in &stalled {
        for _ in 0..20 {
            app.ingest(id, "a.b", b"{}").await;
        }
    }
    eventually(
        "the stalled receivers hold the node's permits",
        WAIT,
        || async { (stalled_rx.max_concurrent() >= 40).then_some(()) },
    )
    .await;
    let healthy_rx = Receiver::start().await;
    let healthy = id_of(
        &app.create_subscription(json!({"target_url": healthy_rx.url("/")}))
            .await,
    );
    let mut sent_at = Vec::new();
    for i in 0..20u64 {
        sent_at.push(std::time::Instant::now());
        let body = json!({"seq": i}).to_string();
        app.ingest(&healthy, "a.b", body.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = healthy_rx.wait_for(20, WAIT).await;
    let mut waits: Vec<Duration> = got
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).expect("json");
            let i = usize::try_from(v["seq"].as_u64().unwrap_or(0)).unwrap_or(0);
            r.at.saturating_duration_since(sent_at[i])
        })
        .collect();
    waits.sort();
    // Generous bounds for a loaded test machine: served first come, first served, most of
    // them waited for the stalled attempts' 2 s timeouts.
    let p90 = waits[waits.len() * 9 / 10 - 1];
    let worst = waits[waits.len() - 1];
    assert!(
        p90 < Duration::from_secs(1) && worst < Duration::from_millis(2500),
        "healthy deliveries waited p90 {p90:?}, worst {worst:?}"
    );
    let cap = app.engine().capacity();
    assert!(
        cap.in_use <= 64 && cap.waiting >= 1,
        "stalled ones were held back: {cap:?}"
    );
    // The stalled ones time out and their adaptive concurrency comes down.
    eventually("a stalled subscription slows down", WAIT, || async {
        let v = app.get(&format!("/subscriptions/{}", stalled[0])).await;
        (v.body["current_concurrency"].as_i64().unwrap_or(16) < 16).then_some(())
    })
    .await;
    let h = app.get(&format!("/subscriptions/{healthy}")).await;
    assert_eq!(h.body["current_concurrency"], 16);
    let metrics = app.call("GET", "/metrics", None).await;
    let text = String::from_utf8_lossy(&metrics.raw);
    assert!(
        text.contains("courier_concurrency_reduced_subscriptions"),
        "{text}"
    );
    assert!(text.contains("courier_attempt_permits{state=\"in_use\"}"));
}
