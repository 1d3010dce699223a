//! Property tests of what the ingest routes do with a producer's bytes before anything is
//! stored: the raw body check ([`json_text`]), the envelope ([`parse_envelope`]), the
//! compact forms the original's clients sign ([`compact_forms`]) and the signature header
//! ([`authorize`]). Generated documents of every depth around the limit, mutated ones, and
//! arbitrary bytes: never a panic; a body is refused exactly when it is too deep or not
//! JSON; what is accepted comes back byte for byte; only the right signature passes.

use actix_web::http::header::HeaderValue;
use actix_web::test::TestRequest;
use chrono::Utc;
use courier_actors::crypto::{KeyRing, generate_key};
use courier_actors::db::subscriptions::SubscriptionRow;
use courier_actors::domain::SigningSecret;
use courier_actors::payload::MAX_DEPTH;
use proptest::prelude::*;
use serde_json::Value;
use sqlx::types::Json;

use super::signature::{authorize, compact_forms};
use super::{json_text, parse_envelope};
use crate::error::ApiError;

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A JSON value: small trees wrapped in up to 100 one-element levels, strings with
/// escapes, brackets, NUL and non-ASCII.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i32>().prop_map(Value::from),
        "[\\PC\"\\\\\\[\\]{}\u{0}\u{1f}\u{e9}\u{1F600}]{0,10}".prop_map(Value::String),
    ];
    let tree = leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\u{e9}\"]{0,3}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    (tree, prop::collection::vec(any::<bool>(), 0..100)).prop_map(|(mut v, wraps)| {
        for as_array in wraps {
            v = if as_array {
                Value::Array(vec![v])
            } else {
                Value::Object([("k".to_owned(), v)].into_iter().collect())
            };
        }
        v
    })
}

/// The value as a producer might write it: compact or pretty.
fn text(v: &Value, pretty: bool) -> String {
    let t = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    };
    t.unwrap_or_default()
}

/// Bytes near JSON: a document with one byte inserted, removed or replaced, or cut short.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        value(),
        any::<bool>(),
        any::<u8>(),
        any::<prop::sample::Index>(),
        0u8..4,
    )
        .prop_map(|(v, pretty, byte, at, how)| {
            let mut b = text(&v, pretty).into_bytes();
            let i = at.index(b.len() + 1);
            match how {
                0 => b.insert(i, byte),
                1 if i < b.len() => {
                    b.remove(i);
                }
                2 if i < b.len() => b[i] = byte,
                _ => b.truncate(i),
            }
            b
        })
}

fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (value(), any::<bool>()).prop_map(|(v, p)| text(&v, p).into_bytes()),
        mutated(),
        prop::collection::vec(any::<u8>(), 0..512),
    ]
}

/// What a correct check says of `bytes`.
#[derive(Debug)]
enum Verdict {
    /// A JSON document this deep.
    Json(usize),
    /// Not JSON (serde also refuses documents 128 or more deep, which are too deep anyway).
    NotJson,
    /// Valid JSON syntax that serde cannot hold as a value (a number beyond `f64`, a lone
    /// surrogate escape): Postgres' `json` takes it, so either verdict is right.
    Unsure,
}

fn oracle(bytes: &[u8]) -> Verdict {
    let Ok(s) = std::str::from_utf8(bytes) else {
        return Verdict::NotJson;
    };
    match serde_json::from_str::<Value>(s) {
        Ok(v) => Verdict::Json(depth(&v)),
        Err(_) if serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok() => Verdict::Unsure,
        Err(_) => Verdict::NotJson,
    }
}

fn signed_subscription(ring: &KeyRing, secret: &str) -> SubscriptionRow {
    let id = uuid::Uuid::now_v7();
    SubscriptionRow {
        id,
        application_id: uuid::Uuid::from_u128(1),
        target_url: "https://e.com/".into(),
        event_types: vec![],
        description: None,
        headers: Json(Default::default()),
        headers_sealed: None,
        rate_limit_per_second: None,
        max_in_flight: 1,
        timeout_ms: None,
        status: "active".into(),
        disabled_reason: None,
        secret: courier_actors::secrets::seal_secret(
            ring,
            id,
            &SigningSecret::from_stored(secret.into()),
        ),
        previous_secret: None,
        previous_secret_expires_at: None,
        requires_signature: true,
        filter: None,
        retry_schedule_ms: None,
        version: 1,
        shard: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

/// Runs `authorize` (async since the key ring) to its end.
fn authorized(
    req: &actix_web::HttpRequest,
    ring: &KeyRing,
    sub: &SubscriptionRow,
    forms: &[&[u8]],
) -> Result<(), ApiError> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(authorize(req, ring, sub, forms))
}

fn sign(secret: &str, body: &[u8]) -> String {
    courier_actors::signing::github_signature(secret.as_bytes(), body)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// The raw form: accepted exactly when the body is a JSON document within the limit,
    /// and then kept byte for byte; refused as too deep or as invalid otherwise.
    #[test]
    fn a_raw_body_is_refused_iff_too_deep_or_invalid(bytes in any_body()) {
        match (json_text(&bytes), oracle(&bytes)) {
            (_, Verdict::Unsure) => {}
            (Ok(t), Verdict::Json(d)) => {
                prop_assert!(d <= MAX_DEPTH, "accepted at depth {}", d);
                prop_assert_eq!(t.as_bytes(), bytes.as_slice());
            }
            (Ok(_), Verdict::NotJson) => {
                return Err(TestCaseError::fail("accepted a body that is not JSON"));
            }
            (Err(ApiError::PayloadTooDeep(_)), Verdict::Json(d)) => {
                prop_assert!(d > MAX_DEPTH, "refused as too deep at depth {}", d);
            }
            (Err(ApiError::PayloadTooDeep(_) | ApiError::InvalidJson(_)), Verdict::NotJson) => {}
            (Err(e), d) => return Err(TestCaseError::fail(format!("{e:?} for {d:?}"))),
        }
    }

    /// The envelope: the payload comes back exactly as sent, within the limit; anything
    /// else is refused, and nothing panics.
    #[test]
    fn an_envelope_keeps_its_payload_exactly(v in value(), pretty in any::<bool>(), junk in any_body()) {
        let payload = text(&v, pretty);
        let body = format!("{{\"event_type\": \"a.b\",\n \"payload\": {payload} }}");
        match parse_envelope(body.as_bytes()) {
            Ok(env) => {
                prop_assert!(depth(&v) <= MAX_DEPTH);
                prop_assert_eq!(env.payload.get(), payload.as_str());
            }
            Err(ApiError::PayloadTooDeep(_) | ApiError::InvalidJson(_)) => {
                prop_assert!(depth(&v) > MAX_DEPTH, "depth {} refused", depth(&v));
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e:?}"))),
        }
        if let Ok(env) = parse_envelope(&junk) {
            let p = env.payload.get();
            let within = matches!(oracle(p.as_bytes()), Verdict::Json(d) if d <= MAX_DEPTH);
            prop_assert!(within || matches!(oracle(p.as_bytes()), Verdict::Unsure));
            prop_assert!(junk.windows(p.len().max(1)).any(|w| w == p.as_bytes()) || p.is_empty());
        }
    }

    /// The compact forms are serde's compact text and its ASCII-escaped twin (what
    /// Python's `json.dumps` writes), both the same document; any text is handled.
    #[test]
    fn compact_forms_are_the_compact_document(v in value(), junk in "\\PC{0,200}") {
        let (plain, ascii) = compact_forms(&text(&v, true));
        prop_assert_eq!(&plain, &text(&v, false));
        prop_assert!(ascii.is_ascii());
        prop_assert_eq!(serde_json::from_str::<Value>(&ascii).ok(), Some(v));
        let (again, _) = compact_forms(&junk);
        prop_assert_eq!(compact_forms(&again).0, again);
    }

    /// The signature header: only the right HMAC of one of the signed forms passes, in any
    /// documented spelling; bytes that are not visible ASCII, or anything else, do not.
    #[test]
    fn only_a_right_signature_header_authorizes(
        v in value(),
        header in prop::collection::vec(prop_oneof![32u8..127, 128u8..=255, Just(b'\t')], 0..90),
        upper in any::<bool>(),
    ) {
        let secret = "fuzz-secret-0123";
        let ring = KeyRing::new(&[generate_key()]).expect("a key ring");
        let sub = signed_subscription(&ring, secret);
        let body = format!("{{\"payload\": {}, \"event_type\": \"a.b\"}}", text(&v, true));
        let (plain, ascii) = compact_forms(&text(&v, true));
        let forms: [&[u8]; 3] = [body.as_bytes(), plain.as_bytes(), ascii.as_bytes()];
        let request = |value: &[u8]| {
            let value = HeaderValue::from_bytes(value).expect("a header value");
            TestRequest::default().insert_header(("x-hub-signature-256", value)).to_http_request()
        };
        for form in forms {
            let mut sig = sign(secret, form);
            if upper {
                sig = format!("sha256={}", sig["sha256=".len()..].to_uppercase());
            }
            prop_assert!(authorized(&request(sig.as_bytes()), &ring, &sub, &forms).is_ok());
        }
        let wrong = sign("another-secret-0", body.as_bytes());
        prop_assert!(matches!(authorized(&request(wrong.as_bytes()), &ring, &sub, &forms), Err(ApiError::InvalidSignature)));
        let bare = TestRequest::default().to_http_request();
        prop_assert!(matches!(authorized(&bare, &ring, &sub, &forms), Err(ApiError::SignatureRequired)));
        let trimmed = String::from_utf8_lossy(&header).trim().to_owned();
        let right = forms.iter().any(|f| {
            let s = sign(secret, f);
            trimmed.eq_ignore_ascii_case(&s) || trimmed.eq_ignore_ascii_case(&s["sha256=".len()..])
        });
        if !right && HeaderValue::from_bytes(&header).is_ok() {
            prop_assert!(authorized(&request(&header), &ring, &sub, &forms).is_err());
        }
    }
}
