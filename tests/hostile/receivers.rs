//! Hostile receivers beside healthy ones. Each test runs one misbehaving TCP receiver and a
//! healthy receiver with two subscriptions, sends ordinary traffic to all three at once
//! (and a second wave while the hostile deliveries are still retrying), and proves: every
//! ordinary message is committed, delivered byte for byte and recorded as a success; the
//! hostile receiver's attempts are recorded with the right error class, or with its answer
//! kept exactly (`response_body`, `response_body_base64`, `response_headers`); and nothing
//! is left unfinished.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::peers::{HostileReceiver, Misbehaviour};
use crate::receiver::Receiver;
use crate::support::TestApp;
use crate::traffic::{
    FAST, Sent, WAIT, assert_delivered, assert_nothing_unfinished, assert_received, attempts,
    ingest_all, spawn, subscribe,
};

/// A hostile receiver's scene after the ordinary traffic was delivered.
struct Scene {
    app: TestApp,
    hostile: HostileReceiver,
    /// What was sent to the hostile receiver's subscription.
    to_hostile: Vec<Sent>,
}

/// Runs `kind` beside two healthy subscriptions: `n` messages to each of the three at once,
/// then a second ordinary wave; checks the ordinary traffic end to end.
async fn beside_healthy(kind: Misbehaviour, n: usize) -> Scene {
    let app = spawn(&FAST).await;
    let healthy = Receiver::start().await;
    let hostile = HostileReceiver::start(kind).await;
    let a = subscribe(&app, &healthy.url("/a")).await;
    let b = subscribe(&app, &healthy.url("/b")).await;
    let h = subscribe(&app, &hostile.url()).await;
    let sent = ingest_all(&app, &[&a, &b, &h], n).await;
    let (to_hostile, mut ordinary): (Vec<Sent>, Vec<Sent>) =
        sent.into_iter().partition(|s| s.subscription == h);
    ordinary.extend(ingest_all(&app, &[&a, &b], n).await);
    assert_delivered(&app, &ordinary).await;
    assert_received(&healthy, &ordinary, &a);
    assert_received(&healthy, &ordinary, &b);
    Scene {
        app,
        hostile,
        to_hostile,
    }
}

impl Scene {
    /// Each hostile delivery, once it reached `status`; the hostile receiver read every
    /// message's exact bytes.
    async fn hostile_deliveries(&self, status: &str) -> Vec<Value> {
        let mut out = Vec::new();
        for s in &self.to_hostile {
            out.push(self.app.wait_for_status(&s.task, status, WAIT).await);
        }
        let seen: Vec<Vec<u8>> = self.hostile.seen().into_iter().map(|r| r.body).collect();
        for s in &self.to_hostile {
            assert!(
                seen.contains(&s.body),
                "the hostile receiver read every body"
            );
        }
        out
    }

    /// Every attempt of every hostile delivery failed with `class`, and each delivery used
    /// its whole schedule (three attempts).
    async fn assert_failed_with(&self, class: &str) {
        for d in self.hostile_deliveries("failed").await {
            let all = attempts(&d);
            assert_eq!(all.len(), 3, "three attempts: {d}");
            for a in &all {
                assert_eq!(a["error_class"], class, "{a}");
                assert_eq!(a["succeeded"], false, "{a}");
                assert!(
                    a["error_message"].as_str().is_some_and(|m| !m.is_empty()),
                    "{a}"
                );
            }
        }
        assert_nothing_unfinished(&self.app).await;
    }
}

/// The exact bytes of an attempt's kept answer: base64 when present, else the text.
fn kept_bytes(attempt: &Value) -> Vec<u8> {
    match attempt["response_body_base64"].as_str() {
        Some(b) => B64.decode(b).expect("valid base64"),
        None => attempt["response_body"]
            .as_str()
            .unwrap_or("")
            .as_bytes()
            .to_vec(),
    }
}

#[actix_web::test]
async fn a_receiver_answering_200_ok_nul_is_recorded_exactly_and_hurts_no_one() {
    let scene = beside_healthy(
        Misbehaviour::Answer {
            body: b"ok\0".to_vec(),
            headers: vec![b"x-nul-free: yes".to_vec()],
        },
        20,
    )
    .await;
    for d in scene.hostile_deliveries("succeeded").await {
        let a = &attempts(&d)[0];
        assert_eq!(a["succeeded"], true, "{a}");
        assert_eq!(a["response_body"], "ok\u{2400}", "NUL shown as U+2400");
        assert_eq!(a["response_body_base64"], B64.encode(b"ok\0"));
        assert_eq!(kept_bytes(a), b"ok\0");
        assert_eq!(a["response_headers"]["x-nul-free"], "yes", "{a}");
    }
    assert_nothing_unfinished(&scene.app).await;
}

#[actix_web::test]
async fn invalid_utf8_answers_and_header_values_are_kept_losslessly() {
    let body = b"ok \xff\xfe \xc3( \xe2\x82".to_vec();
    let scene = beside_healthy(
        Misbehaviour::Answer {
            body: body.clone(),
            headers: vec![b"x-latin1: caf\xe9".to_vec()],
        },
        20,
    )
    .await;
    for d in scene.hostile_deliveries("succeeded").await {
        let a = &attempts(&d)[0];
        assert_eq!(a["succeeded"], true, "{a}");
        let text = a["response_body"].as_str().expect("text");
        assert_eq!(
            text,
            String::from_utf8_lossy(&body),
            "U+FFFD for invalid bytes"
        );
        assert_eq!(kept_bytes(a), body, "the exact bytes come back");
        assert_eq!(a["response_headers"]["x-latin1"], "caf\u{FFFD}", "{a}");
    }
    assert_nothing_unfinished(&scene.app).await;
}

#[actix_web::test]
async fn a_one_mebibyte_header_line_is_an_invalid_response_and_nobody_else_notices() {
    let scene = beside_healthy(Misbehaviour::HugeHeader, 10).await;
    scene.assert_failed_with("invalid_response").await;
}

#[actix_web::test]
async fn a_nul_byte_in_an_answer_header_is_an_invalid_response() {
    let scene = beside_healthy(Misbehaviour::NulInHeader, 10).await;
    scene.assert_failed_with("invalid_response").await;
}

#[actix_web::test]
async fn a_body_trickled_one_byte_a_second_times_out_while_others_are_delivered() {
    let scene = beside_healthy(Misbehaviour::Trickle, 6).await;
    scene.assert_failed_with("timeout").await;
    for d in scene.hostile_deliveries("failed").await {
        for a in attempts(&d) {
            let ms = a["duration_ms"].as_i64().expect("duration");
            assert!(
                (1_400..5_000).contains(&ms),
                "cut at the 1.5 s timeout: {a}"
            );
        }
    }
}

#[actix_web::test]
async fn a_connection_reset_mid_body_keeps_the_status_and_the_bytes_that_arrived() {
    let scene = beside_healthy(Misbehaviour::ResetMidBody, 10).await;
    for d in scene.hostile_deliveries("succeeded").await {
        let a = &attempts(&d)[0];
        assert_eq!(a["status_code"], 200, "{a}");
        assert_eq!(kept_bytes(a), b"partial", "{a}");
    }
    assert_nothing_unfinished(&scene.app).await;
}
