//! Hostile producers beside ordinary ones, on all three ingest forms (`/ingest/{id}` raw,
//! `/webhooks/ingest/{id}` envelope, `/events` fan-out): payloads nested 5,000 deep are
//! refused (`400 payload_too_deep`) while ordinary ingests sent in the same instant are all
//! committed and delivered; what is within the limits — 64 levels, `\u0000` escapes, a
//! 900 KiB array, odd whitespace — is accepted and delivered byte for byte.

use futures_util::FutureExt as _;
use futures_util::future::{LocalBoxFuture, join_all};
use serde_json::Value;

use crate::receiver::Receiver;
use crate::support::{Answer, TestApp, task_of};
use crate::traffic::{FAST, Sent, assert_delivered, spawn, subscribe};

/// The three ingest forms.
#[derive(Debug, Clone, Copy)]
pub enum Form {
    Raw,
    Envelope,
    FanOut,
}

pub const FORMS: [Form; 3] = [Form::Raw, Form::Envelope, Form::FanOut];

/// Ingests `payload` (JSON text) as a `p.test` event in `form` (API key); `sub` is the
/// target of the per-subscription forms.
pub async fn send(app: &TestApp, form: Form, sub: &str, payload: &[u8]) -> Answer {
    let envelope = || {
        let mut b = br#"{"event_type": "p.test", "payload": "#.to_vec();
        b.extend_from_slice(payload);
        b.push(b'}');
        b
    };
    match form {
        Form::Raw => app.ingest(sub, "p.test", payload).await,
        Form::Envelope => {
            let path = format!("/webhooks/ingest/{sub}");
            app.call("POST", &path, Some(&envelope())).await
        }
        Form::FanOut => app.call("POST", "/events", Some(&envelope())).await,
    }
}

/// The delivery id of an accepted ingest (the only delivery of a fan-out here).
pub fn task(answer: &Answer) -> String {
    match &answer.body["deliveries"] {
        Value::Array(d) => {
            assert_eq!(answer.status.as_u16(), 202, "{:?}", answer.body);
            d[0]["task_id"].as_str().expect("task id").to_owned()
        }
        _ => task_of(answer),
    }
}

/// `depth` levels of alternating arrays and objects around a number.
pub fn nested(depth: usize) -> Vec<u8> {
    let mut open = String::new();
    let mut close = String::new();
    for i in 0..depth {
        if i % 2 == 0 {
            open.push('[');
            close.insert(0, ']');
        } else {
            open.push_str("{\"k\":");
            close.insert(0, '}');
        }
    }
    format!("{open}7{close}").into_bytes()
}

fn assert_refused(a: &Answer, status: u16, code: &str, what: &str) {
    assert_eq!(a.status.as_u16(), status, "{what}: {:?}", a.body);
    assert_eq!(a.code(), code, "{what}: {:?}", a.body);
    assert!(
        a.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: a message"
    );
}

/// A scene: Courier, one healthy receiver, one subscription to it (all event types).
async fn scene() -> (TestApp, Receiver, String) {
    let app = spawn(&FAST).await;
    let rx = Receiver::start().await;
    let sub = subscribe(&app, &rx.url("/p")).await;
    (app, rx, sub)
}

/// Accepted `payloads` were delivered byte for byte and recorded as successes.
async fn assert_delivered_exactly(app: &TestApp, rx: &Receiver, sent: Vec<Sent>) {
    assert_delivered(app, &sent).await;
    let got: Vec<Vec<u8>> = rx.requests().into_iter().map(|r| r.body).collect();
    for s in &sent {
        assert!(
            got.contains(&s.body),
            "delivered byte for byte: {}",
            String::from_utf8_lossy(&s.body[..s.body.len().min(200)])
        );
    }
}

#[actix_web::test]
async fn depth_5000_is_refused_on_every_form_while_ordinary_ingests_in_the_same_instant_commit() {
    let (app, rx, sub) = scene().await;
    let deep = nested(5_000);
    let mut jobs: Vec<LocalBoxFuture<'_, (bool, Vec<u8>, Answer)>> = Vec::new();
    for i in 0..20 {
        for form in FORMS {
            let body = format!("{{\"ordinary\":{i},\"form\":\"{form:?}\"}}").into_bytes();
            let (app, sub) = (&app, &sub);
            jobs.push(
                async move { (false, body.clone(), send(app, form, sub, &body).await) }
                    .boxed_local(),
            );
        }
        if i % 7 == 3 {
            for form in FORMS {
                let (app, sub, deep) = (&app, &sub, &deep);
                jobs.push(
                    async move { (true, deep.clone(), send(app, form, sub, deep).await) }
                        .boxed_local(),
                );
            }
        }
    }
    let mut sent = Vec::new();
    for (hostile, body, a) in join_all(jobs).await {
        if hostile {
            assert_refused(&a, 400, "payload_too_deep", "depth 5,000");
        } else {
            sent.push(Sent {
                subscription: sub.clone(),
                task: task(&a),
                body,
            });
        }
    }
    assert_eq!(sent.len(), 60);
    assert_delivered_exactly(&app, &rx, sent).await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages").await,
        60,
        "nothing of the deep payloads is stored"
    );
}

#[actix_web::test]
async fn sixty_four_levels_pass_and_sixty_five_are_refused_on_every_form() {
    let (app, rx, sub) = scene().await;
    let mut sent = Vec::new();
    for form in FORMS {
        for depth in [48, 64] {
            let body = nested(depth);
            let a = send(&app, form, &sub, &body).await;
            sent.push(Sent {
                subscription: sub.clone(),
                task: task(&a),
                body,
            });
        }
        let a = send(&app, form, &sub, &nested(65)).await;
        assert_refused(&a, 400, "payload_too_deep", &format!("{form:?} depth 65"));
    }
    assert_delivered_exactly(&app, &rx, sent).await;
}

#[actix_web::test]
async fn nul_escapes_huge_arrays_and_odd_whitespace_are_delivered_byte_for_byte() {
    let (app, rx, sub) = scene().await;
    let nul = br#"{"s": "a\u0000b", "\u0000k": ["\u0000", "\\u0000", "\"\u0000\""]}"#.to_vec();
    let spaced = b"{ \"a\" :\t[ 1 ,\n 2 ]\r\n, \"b\" : { } }".to_vec();
    let numbers: Vec<String> = (0..160_000).map(|i| i.to_string()).collect();
    let huge = format!("[{}]", numbers.join(",")).into_bytes();
    assert!(huge.len() > 900 * 1024, "{} bytes", huge.len());
    let mut sent = Vec::new();
    for form in FORMS {
        for body in [&nul, &spaced, &huge] {
            let a = send(&app, form, &sub, body).await;
            sent.push(Sent {
                subscription: sub.clone(),
                task: task(&a),
                body: body.clone(),
            });
        }
    }
    let tasks: Vec<String> = sent.iter().map(|s| s.task.clone()).collect();
    assert_delivered_exactly(&app, &rx, sent).await;
    let shown = app.delivery(&tasks[0]).await;
    assert_eq!(
        shown["payload"]["s"], "a\u{0}b",
        "the log shows the NUL escape"
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT payload::text FROM messages")
        .fetch_all(&app.db)
        .await
        .expect("payloads");
    assert!(stored.iter().any(|p| p.as_bytes() == nul.as_slice()));
}
