//! Raw NUL bytes where awc would never put them — in the request line, in header names and
//! values (`Idempotency-Key`, `Authorization`, `X-Hub-Signature-256`, `Content-Type`), raw
//! in a JSON body — and `%00` in query parameters, sent over a plain TCP socket while
//! ordinary producers keep ingesting. Each gets a 4xx and no 5xx, nothing of it is stored,
//! and every ordinary message is committed and delivered.
//!
//! A NUL in the request line or a header is refused by the HTTP parser before any route
//! runs, so its `400` has no JSON body; everything that reaches a route gets the JSON error.

use futures_util::future::join;
use serde_json::json;

use crate::peers::raw_request;
use crate::receiver::Receiver;
use crate::support::{API_KEY, TestApp, hub_signature, id_of};
use crate::traffic::{FAST, assert_delivered, assert_received, ingest_all, spawn, subscribe};

const SECRET: &str = "wire-secret-0123";

/// One raw request: what it is, its bytes, and the JSON `code` expected (`None`: the HTTP
/// parser refuses it before any route runs).
struct Raw {
    name: &'static str,
    bytes: Vec<u8>,
    code: Option<&'static str>,
}

fn request(line: &[u8], headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut r = line.to_vec();
    r.extend_from_slice(b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in headers {
        r.extend_from_slice(h);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    r.extend_from_slice(body);
    r
}

fn cases(open: &str, signed: &str) -> Vec<Raw> {
    let key = format!("Authorization: Bearer {API_KEY}");
    let key = key.as_bytes();
    let raw = format!("POST /ingest/{open}?event_type=a.b HTTP/1.1");
    let raw = raw.as_bytes();
    let signed_line = format!("POST /ingest/{signed}?event_type=a.b HTTP/1.1");
    let good_sig = hub_signature(SECRET.as_bytes(), b"{}");
    let mut nul_sig = good_sig.clone().into_bytes();
    nul_sig.insert(20, 0);
    let mut sig_header = b"X-Hub-Signature-256: ".to_vec();
    sig_header.extend_from_slice(&nul_sig);
    let parser = |name, bytes| Raw {
        name,
        bytes,
        code: None,
    };
    let route = |name, bytes, code| Raw {
        name,
        bytes,
        code: Some(code),
    };
    vec![
        parser(
            "NUL in the request target",
            request(
                format!("POST /ingest/{open}?event_type=a.\0b HTTP/1.1").as_bytes(),
                &[key],
                b"{}",
            ),
        ),
        parser(
            "NUL in the method",
            request(b"PO\0ST /events HTTP/1.1", &[key], b"{}"),
        ),
        parser(
            "NUL in Idempotency-Key",
            request(raw, &[key, b"Idempotency-Key: ab\0cd"], b"{}"),
        ),
        parser(
            "NUL in Authorization",
            request(raw, &[b"Authorization: Bearer te\0st"], b"{}"),
        ),
        parser(
            "NUL in X-Hub-Signature-256",
            request(signed_line.as_bytes(), &[&sig_header], b"{}"),
        ),
        parser(
            "NUL in a header name",
            request(raw, &[key, b"X-Od\0d: 1"], b"{}"),
        ),
        parser(
            "NUL in Content-Type",
            request(raw, &[key, b"Content-Type: application/js\0on"], b"{}"),
        ),
        route(
            "%00 in event_type",
            request(
                format!("POST /ingest/{open}?event_type=a.%00b HTTP/1.1").as_bytes(),
                &[key],
                b"{}",
            ),
            "validation_error",
        ),
        route(
            "%00 as the subscription id",
            request(b"POST /ingest/%00?event_type=a.b HTTP/1.1", &[key], b"{}"),
            "invalid_id",
        ),
        route(
            "raw NUL inside a JSON string",
            request(raw, &[key], b"{\"a\": \"x\0y\"}"),
            "invalid_json",
        ),
        route(
            "raw NUL between JSON tokens",
            request(raw, &[key], b"{\"a\":\0 1}"),
            "invalid_json",
        ),
        route(
            "raw NUL in the envelope's event_type",
            request(
                format!("POST /webhooks/ingest/{open} HTTP/1.1").as_bytes(),
                &[key],
                b"{\"event_type\": \"a.\0b\", \"payload\": {}}",
            ),
            "invalid_json",
        ),
        route(
            "\\u0000 in the envelope's event_type",
            request(
                format!("POST /webhooks/ingest/{open} HTTP/1.1").as_bytes(),
                &[key],
                br#"{"event_type": "a.\u0000b", "payload": {}}"#,
            ),
            "validation_error",
        ),
        route(
            "\\u0000 in the fan-out event_type",
            request(
                b"POST /events HTTP/1.1",
                &[key],
                br#"{"event_type": "\u0000", "payload": {}}"#,
            ),
            "validation_error",
        ),
    ]
}

/// Sends every case; returns the failures.
async fn send_all(app: &TestApp, cases: Vec<Raw>) -> Vec<String> {
    let port: u16 = app
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let mut failures = Vec::new();
    for c in cases {
        let (status, body) = raw_request(port, &c.bytes).await;
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let ok = match c.code {
            None => status == 400,
            Some(code) => status / 100 == 4 && json["code"] == code,
        };
        if !ok {
            failures.push(format!(
                "{}: got {status} {}",
                c.name,
                String::from_utf8_lossy(&body)
            ));
        }
    }
    failures
}

#[actix_web::test]
async fn raw_nul_bytes_in_request_lines_headers_and_bodies_are_refused_and_store_nothing() {
    let app = spawn(&FAST).await;
    let rx = Receiver::start().await;
    let open = subscribe(&app, &rx.url("/open")).await;
    let signed = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/signed"), "secret": SECRET}))
            .await,
    );
    let (sent, failures) = join(
        ingest_all(&app, &[&open], 40),
        send_all(&app, cases(&open, &signed)),
    )
    .await;
    assert!(
        failures.is_empty(),
        "refused wrongly:\n{}",
        failures.join("\n")
    );
    assert_delivered(&app, &sent).await;
    assert_received(&rx, &sent, &open);
    assert_eq!(
        app.count("SELECT count(*) FROM messages").await,
        40,
        "only the ordinary messages are stored"
    );
    assert_eq!(app.count("SELECT count(*) FROM idempotency_keys").await, 0);
}
