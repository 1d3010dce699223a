//! The bad-input catalogue: every case gets its 4xx with a JSON `code`, and the stored data
//! is byte-for-byte unchanged afterwards.

use awc::http::StatusCode;
use serde_json::json;

use crate::support::{API_KEY, TestApp, id_of};

enum Auth {
    Key,
    None,
    Wrong,
    Basic,
}

struct Case {
    name: &'static str,
    method: &'static str,
    /// `{id}` is replaced by an existing subscription's id, `{missing}` by an unknown one.
    path: &'static str,
    body: Option<String>,
    auth: Auth,
    status: u16,
    code: &'static str,
}

fn case(
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
        status,
        code,
    }
}

fn create(name: &'static str, body: &str, status: u16, code: &'static str) -> Case {
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

async fn run_catalogue(app: &TestApp, cases: Vec<Case>, id: &str) {
    let before = app.snapshot().await;
    let missing = uuid::Uuid::now_v7().to_string();
    let mut failures = Vec::new();
    for c in cases {
        let path = c.path.replace("{id}", id).replace("{missing}", &missing);
        let key_header = format!("Bearer {API_KEY}");
        let auth: Vec<(&str, &str)> = match c.auth {
            Auth::Key => vec![("Authorization", key_header.as_str())],
            Auth::None => vec![],
            Auth::Wrong => vec![("Authorization", "Bearer wrong-key-wrong-key")],
            Auth::Basic => vec![("Authorization", "Basic dGVzdDp0ZXN0")],
        };
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
    run_catalogue(&app, subscription_cases(), &id_of(&existing)).await;
}
