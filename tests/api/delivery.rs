//! Delivery: what a receiver gets (headers and signatures it can verify), the retry schedule,
//! `Retry-After`, throttling, `410 Gone`, timeouts and connection errors, rate limits, and the
//! SSRF guard.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::receiver::{Behaviour, Received, Receiver, Reply, closed_port};
use crate::support::{TestApp, eventually, hmac_sha256, hub_signature, id_of, task_of};

const WAIT: Duration = Duration::from_secs(10);

/// Checks each `v1,` entry of `webhook-signature` against `key` independently of any
/// library; returns one bool per entry.
fn standard_entries_verified_by(key: &[u8], r: &Received) -> Vec<bool> {
    let id = r.header("webhook-id").expect("webhook-id");
    let ts = r.header("webhook-timestamp").expect("webhook-timestamp");
    let mut signed = format!("{id}.{ts}.").into_bytes();
    signed.extend_from_slice(&r.body);
    let expected = B64.encode(hmac_sha256(key, &signed));
    r.header("webhook-signature")
        .expect("webhook-signature")
        .split(' ')
        .map(|entry| entry.strip_prefix("v1,") == Some(expected.as_str()))
        .collect()
}

/// The reference library's verdict, given the secret in its `whsec_` form.
fn reference_verifies(whsec: &str, r: &Received) -> bool {
    standardwebhooks::Webhook::new(whsec)
        .expect("a valid whsec_ secret")
        .verify(&r.body, &r.header_map())
        .is_ok()
}

fn assert_common_headers(r: &Received, message_id: &str, task: &str, event_type: &str) {
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(
        r.header("user-agent")
            .is_some_and(|ua| ua.starts_with("Courier/")),
        "{:?}",
        r.header("user-agent")
    );
    assert_eq!(r.header("webhook-id"), Some(message_id));
    assert_eq!(r.header("x-courier-delivery-id"), Some(task));
    assert_eq!(r.header("x-courier-event-type"), Some(event_type));
    assert_eq!(r.header("x-courier-attempt"), Some("1"));
    let ts: i64 = r
        .header("webhook-timestamp")
        .expect("timestamp")
        .parse()
        .expect("integer timestamp");
    let now = chrono::Utc::now().timestamp();
    assert!((now - ts).abs() < 30, "timestamp {ts} is not now ({now})");
}

#[actix_web::test]
async fn outgoing_signatures_verify_independently_for_a_plain_and_a_generated_secret() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;

    // A plain client-chosen secret: the key is its UTF-8 bytes.
    let plain = app
        .create_subscription(json!({"target_url": rx.url("/plain"), "secret": "Pass1234",
            "headers": {"X-Team": "blue"}}))
        .await;
    let body = br#"{"order_id": "A-1", "total": 9.5}"#;
    let a = app
        .ingest_signed(&id_of(&plain), "order.created", "Pass1234", body)
        .await;
    let task = task_of(&a);
    let r = rx.wait_for(1, WAIT).await.remove(0);
    assert_common_headers(
        &r,
        a.body["message_id"].as_str().expect("id"),
        &task,
        "order.created",
    );
    assert_eq!(
        r.header("x-team"),
        Some("blue"),
        "the subscription's extra header"
    );
    assert_eq!(
        r.header("x-hub-signature-256"),
        Some(hub_signature(b"Pass1234", body).as_str())
    );
    assert_eq!(standard_entries_verified_by(b"Pass1234", &r), vec![true]);
    let whsec = format!("whsec_{}", B64.encode("Pass1234"));
    assert!(reference_verifies(&whsec, &r));
    assert!(
        !reference_verifies("whsec_d3Jvbmc=", &r),
        "a wrong secret fails"
    );

    // A generated `whsec_` secret: the key is the decoded bytes.
    let generated = app
        .create_subscription(json!({"target_url": rx.url("/generated")}))
        .await;
    let secret = generated["secret"].as_str().expect("secret").to_owned();
    let key = B64
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64");
    let gid = id_of(&generated);
    let a = app.ingest(&gid, "user.created", b"{\"u\": 7}").await;
    let task = task_of(&a);
    let r = rx.wait_for(2, WAIT).await.remove(1);
    assert_eq!(r.path, "/generated");
    assert_common_headers(
        &r,
        a.body["message_id"].as_str().expect("id"),
        &task,
        "user.created",
    );
    assert_eq!(
        r.header("x-hub-signature-256"),
        Some(hub_signature(&key, &r.body).as_str())
    );
    assert_eq!(standard_entries_verified_by(&key, &r), vec![true]);
    assert!(reference_verifies(&secret, &r));

    // Rotation: two signatures, one per secret, while the old one overlaps.
    let rotated = app
        .call("POST", &format!("/subscriptions/{gid}/rotate-secret"), None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let new_secret = rotated.body["secret"]
        .as_str()
        .expect("new secret")
        .to_owned();
    assert_ne!(new_secret, secret);
    let new_key = B64
        .decode(new_secret.strip_prefix("whsec_").expect("whsec_"))
        .expect("base64");
    task_of(&app.ingest(&gid, "user.created", b"{\"u\": 8}").await);
    let r = rx.wait_for(3, WAIT).await.remove(2);
    let sigs = r.header("webhook-signature").expect("signature");
    assert_eq!(sigs.split(' ').count(), 2, "{sigs}");
    let by_new = standard_entries_verified_by(&new_key, &r);
    let by_old = standard_entries_verified_by(&key, &r);
    assert_eq!(by_new.iter().filter(|v| **v).count(), 1, "{sigs}");
    assert_eq!(by_old.iter().filter(|v| **v).count(), 1, "{sigs}");
    assert!(
        by_new.iter().zip(&by_old).all(|(n, o)| n != o),
        "each entry verifies with exactly one secret"
    );
    assert!(reference_verifies(&new_secret, &r));
    assert!(reference_verifies(&secret, &r));
    let hub = r.header("x-hub-signature-256").expect("hub");
    assert!(
        hub == hub_signature(&new_key, &r.body) || hub == hub_signature(&key, &r.body),
        "X-Hub-Signature-256 verifies with one of the secrets"
    );
}

#[actix_web::test]
async fn a_failing_delivery_is_retried_on_schedule_then_marked_failed() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "150ms,300ms")]).await;
    let rx = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let a = app.ingest(&id, "order.created", b"{\"n\":1}").await;
    let task = task_of(&a);
    let message_id = a.body["message_id"].as_str().expect("id").to_owned();

    let d = app.wait_for_status(&task, "failed", WAIT).await;
    let got = rx.requests();
    assert_eq!(got.len(), 3, "steps + 1 attempts");
    assert_eq!(d["attempt_count"], 3);
    assert_eq!(d["last_status_code"], 500);
    assert_eq!(d["next_attempt_at"], Value::Null);
    let attempts = d["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3);
    for (i, (attempt, r)) in attempts.iter().zip(&got).enumerate() {
        let n = i + 1;
        assert_eq!(attempt["attempt_number"], n);
        assert_eq!(attempt["status_code"], 500);
        assert_eq!(attempt["error_class"], "http_status");
        assert_eq!(attempt["succeeded"], false);
        assert_eq!(
            attempt["request_headers"]["x-courier-attempt"],
            n.to_string()
        );
        assert_eq!(r.header("x-courier-attempt"), Some(n.to_string().as_str()));
        assert_eq!(
            r.header("webhook-id"),
            Some(message_id.as_str()),
            "stable id"
        );
    }
    for (gap, step) in [
        (got[1].at - got[0].at, 150u64),
        (got[2].at - got[1].at, 300),
    ] {
        let step = Duration::from_millis(step);
        assert!(
            gap >= step.mul_f64(0.9),
            "gap {gap:?} shorter than {step:?} - 10%"
        );
        assert!(
            gap < step + Duration::from_secs(1),
            "gap {gap:?} far beyond {step:?}"
        );
    }
    // Nothing more comes after the last attempt.
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.count(), 3);
}

#[actix_web::test]
async fn a_receiver_that_recovers_mid_schedule_ends_succeeded() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "150ms,150ms,150ms")]).await;
    let rx = Receiver::start_with(Behaviour::script(&[500, 503], 200)).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let task = task_of(&app.ingest(&id, "a.b", b"{}").await);
    let d = app.wait_for_status(&task, "succeeded", WAIT).await;
    assert_eq!(d["attempt_count"], 3, "{d:#}");
    let codes: Vec<Value> = d["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), json!(503), json!(200)]);
    assert_eq!(d["last_status_code"], 200);
    assert_eq!(rx.count(), 3);
}

/// Retries that come due before the previous outcome is written must still count on from it.
#[actix_web::test]
async fn short_retry_delays_still_number_attempts_one_to_n_and_keep_the_budget() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "10ms,10ms,10ms,10ms,10ms")]).await;
    let rx = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let task = task_of(&app.ingest(&id, "a.b", b"{}").await);
    let d = app.wait_for_status(&task, "failed", WAIT).await;
    let sent: Vec<String> = rx
        .requests()
        .iter()
        .map(|r| r.header("x-courier-attempt").unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        sent,
        ["1", "2", "3", "4", "5", "6"],
        "x-courier-attempt of each request"
    );
    assert_eq!(d["attempt_count"], 6, "{d:#}");
    let numbers: Vec<Value> = d["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["attempt_number"].clone())
        .collect();
    assert_eq!(numbers, (1..=6).map(|n| json!(n)).collect::<Vec<_>>());
}

#[actix_web::test]
async fn retry_after_on_503_pushes_the_retry_later_but_not_on_500() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "150ms")]).await;
    let rx = Receiver::start_with(Behaviour {
        script: [Reply::retry_after(503, 1)].into(),
        default: Reply::status(200),
        flaky_percent: 0,
    })
    .await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let task = task_of(&app.ingest(&id, "a.b", b"{}").await);
    let got = rx.wait_for(2, WAIT).await;
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "Retry-After: 1 honoured, gap {gap:?}"
    );
    assert!(gap < Duration::from_secs(3), "gap {gap:?}");
    app.wait_for_status(&task, "succeeded", WAIT).await;

    rx.set(Behaviour {
        script: [Reply::retry_after(500, 5)].into(),
        default: Reply::status(200),
        flaky_percent: 0,
    });
    let task = task_of(&app.ingest(&id, "a.b", b"{}").await);
    let got = rx.wait_for(4, WAIT).await;
    let gap = got[3].at - got[2].at;
    assert!(
        gap < Duration::from_millis(900),
        "Retry-After is ignored on 500, gap {gap:?}"
    );
    app.wait_for_status(&task, "succeeded", WAIT).await;
}

#[actix_web::test]
async fn retry_after_is_capped_by_configuration() {
    let app = TestApp::spawn_with(&[
        ("COURIER_RETRY_SCHEDULE", "50ms"),
        ("COURIER_RETRY_AFTER_CAP", "300ms"),
    ])
    .await;
    let rx = Receiver::start_with(Behaviour {
        script: [Reply::retry_after(503, 3600)].into(),
        default: Reply::status(200),
        flaky_percent: 0,
    })
    .await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let task = task_of(&app.ingest(&id, "a.b", b"{}").await);
    let got = rx.wait_for(2, Duration::from_secs(5)).await;
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(270), "gap {gap:?}");
    app.wait_for_status(&task, "succeeded", WAIT).await;
}

#[actix_web::test]
async fn a_throttling_answer_slows_the_whole_subscription() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "50ms")]).await;
    let rx = Receiver::start_with(Behaviour::script(&[429], 200)).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let first = task_of(&app.ingest(&id, "a.b", b"{\"m\":1}").await);
    rx.wait_for(1, WAIT).await;
    app.engine.flush().await;
    // A different message, ingested while the subscription is throttled, waits too.
    let second = task_of(&app.ingest(&id, "a.b", b"{\"m\":2}").await);
    let got = rx.wait_for(3, WAIT).await;
    for later in &got[1..] {
        let gap = later.at - got[0].at;
        assert!(
            gap >= Duration::from_millis(900),
            "sent {gap:?} after a 429"
        );
    }
    app.wait_for_status(&first, "succeeded", WAIT).await;
    app.wait_for_status(&second, "succeeded", WAIT).await;
}

#[actix_web::test]
async fn gone_disables_the_subscription_with_a_reason_and_holds_its_deliveries() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start_with(Behaviour::always(Reply::stall(300, 410))).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/"), "max_in_flight": 1}))
            .await,
    );
    let mut tasks = app.ingest_numbered(&id, 3).await;
    let sub = eventually("the subscription to be disabled", WAIT, || async {
        let s = app.get(&format!("/subscriptions/{id}")).await.body;
        (s["status"] == "disabled").then_some(s)
    })
    .await;
    let reason = sub["disabled_reason"].as_str().expect("a reason");
    assert!(reason.contains("410"), "{reason}");
    assert_eq!(sub["is_active"], false);
    for t in &tasks {
        app.wait_for_status(t, "paused", WAIT).await;
    }
    let held = app.ingest(&id, "a.b", b"{\"i\":3}").await;
    assert_eq!(held.body["status"], "paused");
    tasks.push(task_of(&held));
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rx.count(),
        1,
        "nothing more is sent to a disabled subscription"
    );

    // Held, not dropped: once the receiver is back and the subscription resumed, all drain.
    rx.set(Behaviour::always(Reply::status(200)));
    let resumed = app
        .call("POST", &format!("/subscriptions/{id}/resume"), None)
        .await;
    assert_eq!(resumed.body["status"], "active");
    for t in &tasks {
        app.wait_for_status(t, "succeeded", WAIT).await;
    }
    assert_eq!(rx.count(), 5);
}

#[actix_web::test]
async fn a_subscription_failing_every_delivery_for_the_configured_span_is_disabled() {
    let app = TestApp::spawn_with(&[
        (
            "COURIER_RETRY_SCHEDULE",
            "150ms,150ms,150ms,150ms,150ms,150ms",
        ),
        ("COURIER_DISABLE_AFTER", "300ms"),
    ])
    .await;
    let rx = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let task = task_of(&app.ingest(&id, "a.b", b"{}").await);
    let sub = eventually("the subscription to be disabled", WAIT, || async {
        let s = app.get(&format!("/subscriptions/{id}")).await.body;
        (s["status"] == "disabled").then_some(s)
    })
    .await;
    assert!(
        sub["disabled_reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    let d = app.wait_for_status(&task, "paused", WAIT).await;
    let n = d["attempt_count"].as_i64().expect("count");
    assert!(
        (3..=5).contains(&n),
        "disabled after ~300ms of failures, not {n} attempts"
    );
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.count() as i64, n, "held: no attempts after the disable");
}

#[actix_web::test]
async fn a_stalled_receiver_times_out_a_closed_port_is_a_connect_error_and_bodies_are_cut_at_4_kib()
{
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "150ms")]).await;
    let slow = Receiver::start_with(Behaviour::always(Reply::stall(3000, 200))).await;
    let big = Receiver::start_with(Behaviour::always(Reply::huge(200, 1 << 20))).await;
    let slow_id = id_of(
        &app.create_subscription(json!({"target_url": slow.url("/"), "timeout_ms": 300}))
            .await,
    );
    let closed_id = id_of(
        &app.create_subscription(
            json!({"target_url": format!("http://127.0.0.1:{}/", closed_port())}),
        )
        .await,
    );
    let big_id = id_of(
        &app.create_subscription(json!({"target_url": big.url("/")}))
            .await,
    );

    let started = Instant::now();
    let slow_task = task_of(&app.ingest(&slow_id, "a.b", b"{}").await);
    let closed_task = task_of(&app.ingest(&closed_id, "a.b", b"{}").await);
    let big_task = task_of(&app.ingest(&big_id, "a.b", b"{}").await);

    let d = app.wait_for_status(&slow_task, "failed", WAIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout cut the stall short"
    );
    for a in d["attempts"].as_array().expect("attempts") {
        assert_eq!(a["error_class"], "timeout", "{a}");
        assert_eq!(a["status_code"], Value::Null);
        let ms = a["duration_ms"].as_i64().expect("duration");
        assert!((250..2500).contains(&ms), "duration {ms}");
        assert!(a["error_message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(slow.count(), 2, "it did reach the receiver");

    let d = app.wait_for_status(&closed_task, "failed", WAIT).await;
    for a in d["attempts"].as_array().expect("attempts") {
        assert_eq!(a["error_class"], "connect", "{a}");
        assert_eq!(a["succeeded"], false);
    }

    let d = app.wait_for_status(&big_task, "succeeded", WAIT).await;
    let body = d["attempts"][0]["response_body"].as_str().expect("body");
    assert_eq!(body.len(), 4096);
    assert!(body.bytes().all(|b| b == b'x'));
}

#[actix_web::test]
async fn a_rate_limited_subscription_spreads_its_deliveries_and_drops_none() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/"), "rate_limit_per_second": 5}))
            .await,
    );
    let tasks = app.ingest_numbered(&id, 15).await;
    let got = rx.wait_for(15, WAIT).await;
    let spread = got[14].at - got[0].at;
    assert!(
        spread >= Duration::from_millis(1800),
        "15 at 5/s took only {spread:?}"
    );
    let burst = got[4].at - got[0].at;
    assert!(
        burst < Duration::from_millis(600),
        "the first 5 are a burst: {burst:?}"
    );
    for t in &tasks {
        app.wait_for_status(t, "succeeded", WAIT).await;
    }
}

#[actix_web::test]
async fn max_in_flight_one_never_sends_two_at_once() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start_with(Behaviour::always(Reply::stall(100, 200))).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/"), "max_in_flight": 1}))
            .await,
    );
    let tasks = app.ingest_numbered(&id, 5).await;
    let got = rx.wait_for(5, WAIT).await;
    assert_eq!(rx.max_concurrent(), 1);
    assert!(got[4].at - got[0].at >= Duration::from_millis(400));
    for t in &tasks {
        app.wait_for_status(t, "succeeded", WAIT).await;
    }
}

#[actix_web::test]
async fn private_targets_are_refused_before_connecting_when_not_allowed() {
    let app = TestApp::spawn_with(&[
        ("COURIER_ALLOW_PRIVATE_TARGETS", "false"),
        ("COURIER_RETRY_SCHEDULE", "50ms"),
    ])
    .await;
    let rx = Receiver::start().await;
    let port = rx.port();
    for target in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        "http://10.0.0.1/".to_owned(),
    ] {
        let a = app
            .post("/subscriptions/", &json!({"target_url": target}))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{target}: {:?}", a.body);
        let task = task_of(&app.ingest(&id_of(&a.body), "a.b", b"{}").await);
        let d = app.wait_for_status(&task, "failed", WAIT).await;
        let attempts = d["attempts"].as_array().expect("attempts");
        assert!(!attempts.is_empty());
        for at in attempts {
            assert_eq!(at["error_class"], "blocked_target", "{target}: {at}");
            assert_eq!(at["status_code"], Value::Null);
        }
    }
    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rx.count(), 0, "the receiver was never reached");
}

#[actix_web::test]
async fn a_rotated_out_secret_stops_signing_when_its_overlap_ends() {
    let app = TestApp::spawn_with(&[("COURIER_SECRET_OVERLAP", "400ms")]).await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/"), "secret": "first-secret"}))
            .await,
    );
    let rotated = app
        .call(
            "POST",
            &format!("/subscriptions/{id}/rotate-secret"),
            Some(br#"{"secret": "second-secret"}"#),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    assert_eq!(rotated.body["secret"], "second-secret");
    task_of(
        &app.ingest_signed(&id, "a.b", "second-secret", b"{\"n\":1}")
            .await,
    );
    let r = rx.wait_for(1, WAIT).await.remove(0);
    assert_eq!(standard_entries_verified_by(b"second-secret", &r).len(), 2);
    assert!(standard_entries_verified_by(b"first-secret", &r).contains(&true));

    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    task_of(
        &app.ingest_signed(&id, "a.b", "second-secret", b"{\"n\":2}")
            .await,
    );
    let r = rx.wait_for(2, WAIT).await.remove(1);
    assert_eq!(
        standard_entries_verified_by(b"second-secret", &r),
        vec![true]
    );
    assert_eq!(
        r.header("x-hub-signature-256"),
        Some(hub_signature(b"second-secret", &r.body).as_str())
    );
}
