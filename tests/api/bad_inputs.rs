//! The bad-input catalogue: every case gets its 4xx with a JSON `code`, and the stored data
//! is byte-for-byte unchanged afterwards.

use awc::http::StatusCode;
use serde_json::json;

use crate::support::{API_KEY, TestApp, hub_signature, id_of};

pub(crate) enum Auth {
    Key,
    None,
    Wrong,
    Basic,
}

pub(crate) struct Case {
    name: &'static str,
    method: &'static str,
    /// `{id}` is replaced by an existing subscription's id, `{missing}` by an unknown one.
    path: &'static str,
    body: Option<String>,
    auth: Auth,
    /// Extra request headers (signatures, `Idempotency-Key`).
    headers: Vec<(&'static str, String)>,
    status: u16,
    code: &'static str,
}

pub(crate) fn case(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<&str>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        method,
        path,
        body: body.map(str::to_owned),
        auth: Auth::Key,
        headers: Vec::new(),
        status,
        code,
    }
}

pub(crate) fn create(name: &'static str, body: &str, status: u16, code: &'static str) -> Case {
    case(name, "POST", "/subscriptions/", Some(body), status, code)
}

fn subscription_cases() -> Vec<Case> {
    let long_url = format!(r#"{{"target_url": "https://e.com/{}"}}"#, "a".repeat(3000));
    let many_types = format!(
        r#"{{"target_url": "https://e.com/", "event_types": [{}]}}"#,
        (0..101)
            .map(|i| format!("\"t.{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let long_desc = format!(
        r#"{{"target_url": "https://e.com/", "description": "{}"}}"#,
        "d".repeat(1001)
    );
    let huge = format!(
        r#"{{"target_url": "https://e.com/", "description": "{}"}}"#,
        "x".repeat(70_000)
    );
    let mut cases = vec![
        Case {
            auth: Auth::None,
            ..create(
                "no API key",
                r#"{"target_url": "https://e.com/"}"#,
                401,
                "unauthorized",
            )
        },
        Case {
            auth: Auth::Wrong,
            ..create(
                "wrong API key",
                r#"{"target_url": "https://e.com/"}"#,
                401,
                "unauthorized",
            )
        },
        Case {
            auth: Auth::Basic,
            ..create(
                "basic auth scheme",
                r#"{"target_url": "https://e.com/"}"#,
                401,
                "unauthorized",
            )
        },
        Case {
            auth: Auth::None,
            ..case(
                "list without key",
                "GET",
                "/subscriptions/",
                None,
                401,
                "unauthorized",
            )
        },
        Case {
            auth: Auth::None,
            ..case(
                "delete without key",
                "DELETE",
                "/subscriptions/{id}",
                None,
                401,
                "unauthorized",
            )
        },
        create("truncated JSON", r#"{"target_url": "#, 400, "invalid_json"),
        create("JSON array body", "[]", 400, "invalid_json"),
        create("empty body", "", 400, "invalid_json"),
        create(
            "missing target_url",
            r#"{"event_types": []}"#,
            400,
            "invalid_json",
        ),
        create(
            "target_url is a number",
            r#"{"target_url": 5}"#,
            400,
            "invalid_json",
        ),
        create(
            "relative target_url",
            r#"{"target_url": "/hook"}"#,
            400,
            "validation_error",
        ),
        create(
            "ftp target_url",
            r#"{"target_url": "ftp://e.com/"}"#,
            400,
            "validation_error",
        ),
        create(
            "target_url with credentials",
            r#"{"target_url": "https://u:p@e.com/"}"#,
            400,
            "validation_error",
        ),
        create("target_url too long", &long_url, 400, "validation_error"),
        create(
            "event_types is a string",
            r#"{"target_url": "https://e.com/", "event_types": "a.b"}"#,
            400,
            "invalid_json",
        ),
        create(
            "wildcard in the middle",
            r#"{"target_url": "https://e.com/", "event_types": ["a.*.b"]}"#,
            400,
            "validation_error",
        ),
        create(
            "space in event type",
            r#"{"target_url": "https://e.com/", "event_types": ["a b"]}"#,
            400,
            "validation_error",
        ),
        create(
            "empty event type",
            r#"{"target_url": "https://e.com/", "event_types": [""]}"#,
            400,
            "validation_error",
        ),
        create("too many event types", &many_types, 400, "validation_error"),
        create(
            "secret too short",
            r#"{"target_url": "https://e.com/", "secret": "abc"}"#,
            400,
            "validation_error",
        ),
        create(
            "secret with control char",
            r#"{"target_url": "https://e.com/", "secret": "abcdef\u0001"}"#,
            400,
            "validation_error",
        ),
        create(
            "both secret and secret_key",
            r#"{"target_url": "https://e.com/", "secret": "abcdefg", "secret_key": "abcdefg"}"#,
            400,
            "invalid_json",
        ),
        create(
            "rate limit zero",
            r#"{"target_url": "https://e.com/", "rate_limit_per_second": 0}"#,
            400,
            "validation_error",
        ),
        create(
            "rate limit negative",
            r#"{"target_url": "https://e.com/", "rate_limit_per_second": -5}"#,
            400,
            "validation_error",
        ),
        create(
            "rate limit huge",
            r#"{"target_url": "https://e.com/", "rate_limit_per_second": 100001}"#,
            400,
            "validation_error",
        ),
        create(
            "max_in_flight zero",
            r#"{"target_url": "https://e.com/", "max_in_flight": 0}"#,
            400,
            "validation_error",
        ),
        create(
            "timeout too small",
            r#"{"target_url": "https://e.com/", "timeout_ms": 10}"#,
            400,
            "validation_error",
        ),
        create(
            "timeout beyond i32",
            r#"{"target_url": "https://e.com/", "timeout_ms": 99999999999}"#,
            400,
            "invalid_json",
        ),
        create(
            "timeout is a float",
            r#"{"target_url": "https://e.com/", "timeout_ms": 1.5}"#,
            400,
            "invalid_json",
        ),
        create(
            "reserved header",
            r#"{"target_url": "https://e.com/", "headers": {"Content-Type": "text/plain"}}"#,
            400,
            "validation_error",
        ),
        create(
            "malformed header name",
            r#"{"target_url": "https://e.com/", "headers": {"bad name": "x"}}"#,
            400,
            "validation_error",
        ),
        create(
            "header value not a string",
            r#"{"target_url": "https://e.com/", "headers": {"x-a": 1}}"#,
            400,
            "invalid_json",
        ),
        create("description too long", &long_desc, 400, "validation_error"),
        create(
            "body over COURIER_MAX_BODY",
            &huge,
            413,
            "payload_too_large",
        ),
        case(
            "limit zero",
            "GET",
            "/subscriptions/?limit=0",
            None,
            400,
            "invalid_query",
        ),
        case(
            "limit too large",
            "GET",
            "/subscriptions/?limit=501",
            None,
            400,
            "invalid_query",
        ),
        case(
            "limit not a number",
            "GET",
            "/subscriptions/?limit=ten",
            None,
            400,
            "invalid_query",
        ),
        case(
            "bad cursor",
            "GET",
            "/subscriptions/?cursor=zzz",
            None,
            400,
            "invalid_query",
        ),
        case(
            "unknown status filter",
            "GET",
            "/subscriptions/?status=sleeping",
            None,
            400,
            "invalid_query",
        ),
        case(
            "id not a uuid",
            "GET",
            "/subscriptions/not-a-uuid",
            None,
            400,
            "invalid_id",
        ),
        case(
            "unknown id",
            "GET",
            "/subscriptions/{missing}",
            None,
            404,
            "not_found",
        ),
        case(
            "put unknown id",
            "PUT",
            "/subscriptions/{missing}",
            Some(r#"{"target_url": "https://e.com/"}"#),
            404,
            "not_found",
        ),
        case(
            "put with secret",
            "PUT",
            "/subscriptions/{id}",
            Some(r#"{"target_url": "https://e.com/", "secret": "abcdefgh"}"#),
            400,
            "validation_error",
        ),
        case(
            "put without target_url",
            "PUT",
            "/subscriptions/{id}",
            Some(r#"{"event_types": []}"#),
            400,
            "invalid_json",
        ),
        case(
            "put bad url",
            "PUT",
            "/subscriptions/{id}",
            Some(r#"{"target_url": "nope"}"#),
            400,
            "validation_error",
        ),
        case(
            "patch bad url",
            "PATCH",
            "/subscriptions/{id}",
            Some(r#"{"target_url": "nope"}"#),
            400,
            "validation_error",
        ),
        case(
            "patch bad pattern",
            "PATCH",
            "/subscriptions/{id}",
            Some(r#"{"event_types": ["*.a"]}"#),
            400,
            "validation_error",
        ),
        case(
            "patch with secret_key",
            "PATCH",
            "/subscriptions/{id}",
            Some(r#"{"secret_key": "abcdefgh"}"#),
            400,
            "validation_error",
        ),
        case(
            "patch array body",
            "PATCH",
            "/subscriptions/{id}",
            Some("[1]"),
            400,
            "invalid_json",
        ),
        case(
            "patch unknown id",
            "PATCH",
            "/subscriptions/{missing}",
            Some("{}"),
            404,
            "not_found",
        ),
        case(
            "delete unknown id",
            "DELETE",
            "/subscriptions/{missing}",
            None,
            404,
            "not_found",
        ),
        case(
            "delete bad id",
            "DELETE",
            "/subscriptions/123",
            None,
            400,
            "invalid_id",
        ),
        case(
            "pause unknown id",
            "POST",
            "/subscriptions/{missing}/pause",
            None,
            404,
            "not_found",
        ),
        case(
            "resume unknown id",
            "POST",
            "/subscriptions/{missing}/resume",
            None,
            404,
            "not_found",
        ),
        case(
            "rotate unknown id",
            "POST",
            "/subscriptions/{missing}/rotate-secret",
            None,
            404,
            "not_found",
        ),
        case(
            "rotate short secret",
            "POST",
            "/subscriptions/{id}/rotate-secret",
            Some(r#"{"secret": "x"}"#),
            400,
            "validation_error",
        ),
        case(
            "rotate malformed body",
            "POST",
            "/subscriptions/{id}/rotate-secret",
            Some("{nope"),
            400,
            "invalid_json",
        ),
        case(
            "wrong method",
            "POST",
            "/subscriptions/{id}",
            Some("{}"),
            405,
            "method_not_allowed",
        ),
        case("unknown route", "GET", "/nowhere", None, 404, "not_found"),
        case(
            "GET on the ingest route",
            "GET",
            "/ingest/{id}",
            None,
            405,
            "method_not_allowed",
        ),
        case(
            "PUT on the fan-out route",
            "PUT",
            "/events",
            Some("{}"),
            405,
            "method_not_allowed",
        ),
        case(
            "DELETE on a delivery",
            "DELETE",
            "/deliveries/{missing}",
            None,
            405,
            "method_not_allowed",
        ),
        case(
            "POST on health",
            "POST",
            "/health",
            None,
            405,
            "method_not_allowed",
        ),
        case(
            "DELETE on the list",
            "DELETE",
            "/subscriptions/",
            None,
            405,
            "method_not_allowed",
        ),
    ];
    cases.push(case(
        "unicode path",
        "GET",
        "/subscriptions/%F0%9F%92%A5",
        None,
        400,
        "invalid_id",
    ));
    cases
}

/// Runs every case; `ids` replace placeholders such as `{id}` in paths.
pub(crate) async fn run_catalogue(app: &TestApp, cases: Vec<Case>, ids: &[(&str, &str)]) {
    let before = app.snapshot().await;
    let missing = uuid::Uuid::now_v7().to_string();
    let mut failures = Vec::new();
    for c in cases {
        let mut path = c.path.replace("{missing}", &missing);
        for (placeholder, id) in ids {
            path = path.replace(placeholder, id);
        }
        let key_header = format!("Bearer {API_KEY}");
        let mut auth: Vec<(&str, &str)> = match c.auth {
            Auth::Key => vec![("Authorization", key_header.as_str())],
            Auth::None => vec![],
            Auth::Wrong => vec![("Authorization", "Bearer wrong-key-wrong-key")],
            Auth::Basic => vec![("Authorization", "Basic dGVzdDp0ZXN0")],
        };
        auth.extend(c.headers.iter().map(|(k, v)| (*k, v.as_str())));
        let a = app
            .call_with(c.method, &path, c.body.as_deref().map(str::as_bytes), &auth)
            .await;
        let message_ok = a
            .body
            .get("message")
            .and_then(|m| m.as_str())
            .is_some_and(|m| !m.is_empty());
        if a.status != StatusCode::from_u16(c.status).expect("status")
            || a.code() != c.code
            || !message_ok
        {
            failures.push(format!(
                "{}: expected {} {}, got {} {:?}",
                c.name, c.status, c.code, a.status, a.body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "bad inputs answered wrongly:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "a bad request changed stored data"
    );
}

#[actix_web::test]
async fn every_bad_subscription_request_gets_its_4xx_and_changes_nothing() {
    let app = TestApp::spawn_with(&[("COURIER_MAX_BODY", "64KiB")]).await;
    let existing = app
        .create_subscription(json!({"target_url": "https://e.com/keep", "event_types": ["a.b"]}))
        .await;
    run_catalogue(&app, subscription_cases(), &[("{id}", &id_of(&existing))]).await;
}

/// The secret of the catalogue's signed subscription (`{signed}`).
const SIGNED_SECRET: &str = "catalogue-secret";

pub(crate) fn post(
    name: &'static str,
    path: &'static str,
    body: &str,
    status: u16,
    code: &'static str,
) -> Case {
    case(name, "POST", path, Some(body), status, code)
}

pub(crate) fn get(name: &'static str, path: &'static str, status: u16, code: &'static str) -> Case {
    case(name, "GET", path, None, status, code)
}

fn without_key(c: Case) -> Case {
    Case {
        auth: Auth::None,
        ..c
    }
}

fn with_header(c: Case, name: &'static str, value: String) -> Case {
    let mut c = c;
    c.headers.push((name, value));
    c
}

/// A signed-subscription case whose signature is correct for its body.
fn signed(
    name: &'static str,
    path: &'static str,
    body: &str,
    status: u16,
    code: &'static str,
) -> Case {
    let sig = hub_signature(SIGNED_SECRET.as_bytes(), body.as_bytes());
    with_header(
        without_key(post(name, path, body, status, code)),
        "X-Hub-Signature-256",
        sig,
    )
}

fn ingest_cases() -> Vec<Case> {
    let huge = format!(r#"{{"x": "{}"}}"#, "x".repeat(70_000));
    let huge_envelope = format!(r#"{{"event_type": "a.b", "payload": {huge}}}"#);
    let long_key = "k".repeat(300);
    let raw = "/ingest/{id}?event_type=order.created";
    let signed_raw = "/ingest/{signed}?event_type=order.created";
    let signed_unwanted = "/ingest/{signed}?event_type=user.deleted";
    vec![
        // The raw form, on a subscription without a client secret (needs the API key).
        post(
            "ingest truncated JSON",
            raw,
            r#"{"a": "#,
            400,
            "invalid_json",
        ),
        post("ingest empty body", raw, "", 400, "invalid_json"),
        post("ingest two JSON values", raw, "{} {}", 400, "invalid_json"),
        post(
            "ingest missing event_type",
            "/ingest/{id}",
            "{}",
            400,
            "validation_error",
        ),
        post(
            "ingest empty event_type",
            "/ingest/{id}?event_type=",
            "{}",
            400,
            "validation_error",
        ),
        post(
            "ingest prefix wildcard event_type",
            "/ingest/{id}?event_type=order.*",
            "{}",
            400,
            "validation_error",
        ),
        post(
            "ingest star event_type",
            "/ingest/{id}?event_type=*",
            "{}",
            400,
            "validation_error",
        ),
        post(
            "ingest event_type with a space",
            "/ingest/{id}?event_type=a%20b",
            "{}",
            400,
            "validation_error",
        ),
        without_key(post(
            "ingest without API key",
            raw,
            "{}",
            401,
            "unauthorized",
        )),
        Case {
            auth: Auth::Wrong,
            ..post("ingest wrong API key", raw, "{}", 401, "unauthorized")
        },
        post(
            "ingest unknown subscription",
            "/ingest/{missing}?event_type=a.b",
            "{}",
            404,
            "not_found",
        ),
        post(
            "ingest subscription id not a uuid",
            "/ingest/nope?event_type=a.b",
            "{}",
            400,
            "invalid_id",
        ),
        post(
            "ingest body over COURIER_MAX_BODY",
            raw,
            &huge,
            413,
            "payload_too_large",
        ),
        with_header(
            post(
                "ingest Idempotency-Key of 300 chars",
                raw,
                "{}",
                400,
                "validation_error",
            ),
            "Idempotency-Key",
            long_key.clone(),
        ),
        with_header(
            post(
                "ingest Idempotency-Key with a space",
                raw,
                "{}",
                400,
                "validation_error",
            ),
            "Idempotency-Key",
            "a b".into(),
        ),
        // The envelope form.
        post(
            "envelope is an array",
            "/webhooks/ingest/{id}",
            "[]",
            400,
            "invalid_json",
        ),
        post(
            "envelope without payload",
            "/webhooks/ingest/{id}",
            r#"{"event_type": "a.b"}"#,
            400,
            "invalid_json",
        ),
        post(
            "envelope without event_type",
            "/webhooks/ingest/{id}",
            r#"{"payload": {}}"#,
            400,
            "validation_error",
        ),
        post(
            "envelope event_type is a number",
            "/webhooks/ingest/{id}",
            r#"{"payload": {}, "event_type": 5}"#,
            400,
            "invalid_json",
        ),
        post(
            "envelope wildcard event_type",
            "/webhooks/ingest/{id}",
            r#"{"payload": {}, "event_type": "order.*"}"#,
            400,
            "validation_error",
        ),
        post(
            "envelope unknown subscription",
            "/webhooks/ingest/{missing}",
            r#"{"payload": {}, "event_type": "a.b"}"#,
            404,
            "not_found",
        ),
        post(
            "envelope over COURIER_MAX_BODY",
            "/webhooks/ingest/{id}",
            &huge_envelope,
            413,
            "payload_too_large",
        ),
        without_key(post(
            "envelope without API key",
            "/webhooks/ingest/{id}",
            r#"{"payload": {}, "event_type": "a.b"}"#,
            401,
            "unauthorized",
        )),
        // A subscription created with a secret: the signature is checked first.
        without_key(post(
            "signed ingest without signature",
            signed_raw,
            "{}",
            401,
            "signature_required",
        )),
        post(
            "signed ingest with only the API key",
            signed_raw,
            "{}",
            401,
            "signature_required",
        ),
        without_key(post(
            "signed ingest of an unwanted type, unsigned",
            signed_unwanted,
            "{}",
            401,
            "signature_required",
        )),
        with_header(
            without_key(post(
                "signed ingest wrong signature",
                signed_raw,
                "{}",
                401,
                "invalid_signature",
            )),
            "X-Hub-Signature-256",
            format!("sha256={}", "0".repeat(64)),
        ),
        with_header(
            without_key(post(
                "signed ingest signature not hex",
                signed_raw,
                "{}",
                401,
                "invalid_signature",
            )),
            "X-Hub-Signature-256",
            "sha256=zz".into(),
        ),
        with_header(
            without_key(post(
                "signed ingest non-ASCII signature",
                signed_raw,
                "{}",
                401,
                "invalid_signature",
            )),
            "X-Hub-Signature-256",
            "sha256=\u{e9}t\u{e9}".into(),
        ),
        with_header(
            without_key(post(
                "signed ingest empty signature",
                signed_raw,
                "{}",
                401,
                "invalid_signature",
            )),
            "X-Hub-Signature-256",
            String::new(),
        ),
        with_header(
            without_key(post(
                "signed ingest signature of another body",
                signed_raw,
                r#"{"a":1}"#,
                401,
                "invalid_signature",
            )),
            "X-Hub-Signature-256",
            hub_signature(SIGNED_SECRET.as_bytes(), b"{}"),
        ),
        with_header(
            without_key(post(
                "signed ingest signed with the wrong secret",
                signed_raw,
                "{}",
                401,
                "invalid_signature",
            )),
            "X-Hub-Signature-256",
            hub_signature(b"not-the-secret", b"{}"),
        ),
        signed(
            "signed ingest, good signature, bad JSON",
            signed_raw,
            "{nope",
            400,
            "invalid_json",
        ),
        signed(
            "signed ingest, good signature, wildcard type",
            "/ingest/{signed}?event_type=order.*",
            "{}",
            400,
            "validation_error",
        ),
        signed(
            "signed envelope, good signature, no event_type",
            "/webhooks/ingest/{signed}",
            r#"{"payload": {}}"#,
            400,
            "validation_error",
        ),
        with_header(
            without_key(post(
                "signed envelope wrong signature",
                "/webhooks/ingest/{signed}",
                r#"{"payload": {"a": 1}, "event_type": "order.created"}"#,
                401,
                "invalid_signature",
            )),
            "X-Hub-Signature-256",
            hub_signature(SIGNED_SECRET.as_bytes(), br#"{"a":2}"#),
        ),
        // Fan-out.
        without_key(post(
            "events without API key",
            "/events",
            r#"{"payload": {}, "event_type": "a.b"}"#,
            401,
            "unauthorized",
        )),
        Case {
            auth: Auth::Wrong,
            ..post(
                "events wrong API key",
                "/events",
                r#"{"payload": {}, "event_type": "a.b"}"#,
                401,
                "unauthorized",
            )
        },
        post(
            "events truncated JSON",
            "/events",
            r#"{"payload": "#,
            400,
            "invalid_json",
        ),
        post(
            "events without event_type",
            "/events",
            r#"{"payload": {}}"#,
            400,
            "validation_error",
        ),
        post(
            "events without payload",
            "/events",
            r#"{"event_type": "a.b"}"#,
            400,
            "invalid_json",
        ),
        post(
            "events prefix wildcard type",
            "/events",
            r#"{"payload": {}, "event_type": "order.*"}"#,
            400,
            "validation_error",
        ),
        post(
            "events star type",
            "/events",
            r#"{"payload": {}, "event_type": "*"}"#,
            400,
            "validation_error",
        ),
        post(
            "events over COURIER_MAX_BODY",
            "/events",
            &huge_envelope,
            413,
            "payload_too_large",
        ),
        with_header(
            post(
                "events Idempotency-Key of 300 chars",
                "/events",
                r#"{"payload": {}, "event_type": "a.b"}"#,
                400,
                "validation_error",
            ),
            "Idempotency-Key",
            long_key,
        ),
        // Test events.
        post(
            "test event for unknown subscription",
            "/subscriptions/{missing}/test",
            "",
            404,
            "not_found",
        ),
        without_key(post(
            "test event without API key",
            "/subscriptions/{id}/test",
            "",
            401,
            "unauthorized",
        )),
    ]
}

fn log_cases() -> Vec<Case> {
    vec![
        get(
            "delivery id not a uuid",
            "/deliveries/not-a-uuid",
            400,
            "invalid_id",
        ),
        get(
            "unknown delivery",
            "/deliveries/{missing}",
            404,
            "not_found",
        ),
        get(
            "unknown delivery by status alias",
            "/webhooks/status/{missing}",
            404,
            "not_found",
        ),
        get(
            "status alias bad id",
            "/webhooks/status/123",
            400,
            "invalid_id",
        ),
        without_key(get(
            "delivery without API key",
            "/deliveries/{missing}",
            401,
            "unauthorized",
        )),
        post(
            "retry unknown delivery",
            "/deliveries/{missing}/retry",
            "",
            404,
            "not_found",
        ),
        post(
            "retry bad delivery id",
            "/deliveries/xyz/retry",
            "",
            400,
            "invalid_id",
        ),
        without_key(post(
            "retry without API key",
            "/deliveries/{missing}/retry",
            "",
            401,
            "unauthorized",
        )),
        get(
            "log with unknown status",
            "/subscriptions/{id}/deliveries?status=sleeping",
            400,
            "invalid_query",
        ),
        get(
            "log with a date that is not RFC 3339",
            "/subscriptions/{id}/deliveries?since=yesterday",
            400,
            "invalid_query",
        ),
        get(
            "log with an impossible until",
            "/subscriptions/{id}/deliveries?until=2026-13-01T00:00:00Z",
            400,
            "invalid_query",
        ),
        get(
            "log with since after until",
            "/subscriptions/{id}/deliveries?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
            400,
            "invalid_query",
        ),
        get(
            "log limit zero",
            "/subscriptions/{id}/deliveries?limit=0",
            400,
            "invalid_query",
        ),
        get(
            "log limit too large",
            "/subscriptions/{id}/deliveries?limit=501",
            400,
            "invalid_query",
        ),
        get(
            "log limit not a number",
            "/subscriptions/{id}/deliveries?limit=ten",
            400,
            "invalid_query",
        ),
        get(
            "log bad cursor",
            "/subscriptions/{id}/deliveries?cursor=zzz",
            400,
            "invalid_query",
        ),
        get(
            "log of unknown subscription",
            "/subscriptions/{missing}/deliveries",
            404,
            "not_found",
        ),
        get(
            "log of bad subscription id",
            "/subscriptions/nope/deliveries",
            400,
            "invalid_id",
        ),
        get(
            "recent-deliveries alias bad status",
            "/subscriptions/{id}/recent-deliveries?status=x",
            400,
            "invalid_query",
        ),
        without_key(get(
            "log without API key",
            "/subscriptions/{id}/deliveries",
            401,
            "unauthorized",
        )),
        post(
            "recover without since",
            "/subscriptions/{id}/recover",
            "",
            400,
            "invalid_query",
        ),
        post(
            "recover with a bad since",
            "/subscriptions/{id}/recover?since=last-week",
            "",
            400,
            "invalid_query",
        ),
        post(
            "recover unknown subscription",
            "/subscriptions/{missing}/recover?since=2026-01-01T00:00:00Z",
            "",
            404,
            "not_found",
        ),
        without_key(post(
            "recover without API key",
            "/subscriptions/{id}/recover?since=2026-01-01T00:00:00Z",
            "",
            401,
            "unauthorized",
        )),
        get("unknown message", "/messages/{missing}", 404, "not_found"),
        get("message id not a uuid", "/messages/m-1", 400, "invalid_id"),
        without_key(get(
            "message without API key",
            "/messages/{missing}",
            401,
            "unauthorized",
        )),
        without_key(get(
            "stream without API key",
            "/stream",
            401,
            "unauthorized",
        )),
        without_key(get(
            "stream with a wrong api_key",
            "/stream?api_key=wrong-key-wrong-key",
            401,
            "unauthorized",
        )),
        Case {
            auth: Auth::Wrong,
            ..get("stream with a wrong bearer", "/stream", 401, "unauthorized")
        },
        without_key(get(
            "overview without API key",
            "/stats/overview",
            401,
            "unauthorized",
        )),
    ]
}

#[actix_web::test]
async fn every_bad_ingest_request_gets_its_4xx_and_stores_nothing() {
    let app = TestApp::spawn_with(&[("COURIER_MAX_BODY", "64KiB")]).await;
    let open = app
        .create_subscription(json!({"target_url": "https://e.com/open"}))
        .await;
    let signed = app
        .create_subscription(json!({"target_url": "https://e.com/signed",
            "secret": SIGNED_SECRET, "event_types": ["order.created"]}))
        .await;
    run_catalogue(
        &app,
        ingest_cases(),
        &[("{id}", &id_of(&open)), ("{signed}", &id_of(&signed))],
    )
    .await;
}

#[actix_web::test]
async fn every_bad_log_or_operations_request_gets_its_4xx_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let existing = app
        .create_subscription(json!({"target_url": "https://e.com/keep"}))
        .await;
    run_catalogue(&app, log_cases(), &[("{id}", &id_of(&existing))]).await;
}
