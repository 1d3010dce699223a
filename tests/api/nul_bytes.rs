//! The bad-input catalogue, extended with NUL in every string field of every management
//! route: as a `\u0000` escape (valid JSON that Postgres `text` cannot hold), as a raw NUL
//! byte inside a JSON string (not JSON at all), and as `%00` in paths and query
//! parameters. Each gets a clear 4xx with its JSON `code`, never a 5xx, and nothing stored
//! changes. (Raw NUL bytes in request lines and headers, which awc refuses to send, are in
//! the hostile suite: `tests/hostile/wire.rs`.)

use serde_json::json;

use crate::bad_inputs::{Case, create, get, post, run_catalogue};
use crate::support::{TestApp, id_of};

fn case(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: &str,
    code: &'static str,
) -> Case {
    crate::bad_inputs::case(name, method, path, Some(body), 400, code)
}

fn subscription_cases() -> Vec<Case> {
    vec![
        create(
            "target_url with \\u0000",
            r#"{"target_url": "https://e.com/a\u0000b"}"#,
            400,
            "validation_error",
        ),
        create(
            "secret with \\u0000",
            r#"{"target_url": "https://e.com/", "secret": "abcdefgh\u0000"}"#,
            400,
            "validation_error",
        ),
        create(
            "event type with \\u0000",
            r#"{"target_url": "https://e.com/", "event_types": ["a.\u0000"]}"#,
            400,
            "validation_error",
        ),
        create(
            "description with \\u0000",
            r#"{"target_url": "https://e.com/", "description": "a\u0000b"}"#,
            400,
            "validation_error",
        ),
        create(
            "description with a raw NUL byte",
            "{\"target_url\": \"https://e.com/\", \"description\": \"a\0b\"}",
            400,
            "invalid_json",
        ),
        create(
            "header value with \\u0000",
            r#"{"target_url": "https://e.com/", "headers": {"x-a": "a\u0000b"}}"#,
            400,
            "validation_error",
        ),
        create(
            "header name with \\u0000",
            r#"{"target_url": "https://e.com/", "headers": {"x-\u0000": "v"}}"#,
            400,
            "validation_error",
        ),
        case(
            "PUT description with \\u0000",
            "PUT",
            "/subscriptions/{id}",
            r#"{"target_url": "https://e.com/", "description": "\u0000"}"#,
            "validation_error",
        ),
        case(
            "PATCH description with \\u0000",
            "PATCH",
            "/subscriptions/{id}",
            r#"{"description": "x\u0000"}"#,
            "validation_error",
        ),
        case(
            "PATCH target_url with \\u0000",
            "PATCH",
            "/subscriptions/{id}",
            r#"{"target_url": "https://e.com/\u0000"}"#,
            "validation_error",
        ),
        case(
            "PATCH event types with \\u0000",
            "PATCH",
            "/subscriptions/{id}",
            r#"{"event_types": ["\u0000"]}"#,
            "validation_error",
        ),
        case(
            "PATCH header value with \\u0000",
            "PATCH",
            "/subscriptions/{id}",
            r#"{"headers": {"x-a": "\u0000"}}"#,
            "validation_error",
        ),
        post(
            "rotate-secret with \\u0000",
            "/subscriptions/{id}/rotate-secret",
            r#"{"secret": "abcdefgh\u0000"}"#,
            400,
            "validation_error",
        ),
        get(
            "list status %00",
            "/subscriptions/?status=%00",
            400,
            "invalid_query",
        ),
        get(
            "list cursor %00",
            "/subscriptions/?cursor=%00",
            400,
            "invalid_query",
        ),
        get(
            "subscription id %00",
            "/subscriptions/%00",
            400,
            "invalid_id",
        ),
    ]
}

fn log_cases() -> Vec<Case> {
    vec![
        get(
            "log event_type %00",
            "/subscriptions/{id}/deliveries?event_type=%00",
            400,
            "invalid_query",
        ),
        get(
            "log event_type with %00 inside",
            "/subscriptions/{id}/deliveries?event_type=a.b%00c",
            400,
            "invalid_query",
        ),
        get(
            "log status %00",
            "/subscriptions/{id}/deliveries?status=%00",
            400,
            "invalid_query",
        ),
        get(
            "log since %00",
            "/subscriptions/{id}/deliveries?since=%00",
            400,
            "invalid_query",
        ),
        get(
            "log until %00",
            "/subscriptions/{id}/deliveries?until=2026-01-01T00:00:00Z%00",
            400,
            "invalid_query",
        ),
        get(
            "log cursor %00",
            "/subscriptions/{id}/deliveries?cursor=%00",
            400,
            "invalid_query",
        ),
        get(
            "recent-deliveries event_type %00",
            "/subscriptions/{id}/recent-deliveries?event_type=%00",
            400,
            "invalid_query",
        ),
        post(
            "recover since %00",
            "/subscriptions/{id}/recover?since=%00",
            "",
            400,
            "invalid_query",
        ),
        get("delivery id %00", "/deliveries/%00", 400, "invalid_id"),
        get(
            "status alias id %00",
            "/webhooks/status/%00",
            400,
            "invalid_id",
        ),
        get("message id %00", "/messages/%00", 400, "invalid_id"),
        get(
            "stream subscription_id %00",
            "/stream?subscription_id=%00",
            400,
            "invalid_query",
        ),
    ]
}

fn tenancy_cases() -> Vec<Case> {
    vec![
        post(
            "application uid with \\u0000",
            "/applications",
            r#"{"uid": "a\u0000", "name": "n"}"#,
            400,
            "validation_error",
        ),
        post(
            "application name with \\u0000",
            "/applications",
            r#"{"uid": "nul-app", "name": "n\u0000"}"#,
            400,
            "validation_error",
        ),
        post(
            "application retention with \\u0000",
            "/applications",
            r#"{"uid": "nul-app", "name": "n", "retention": "1d\u0000"}"#,
            400,
            "validation_error",
        ),
        case(
            "application PATCH name with \\u0000",
            "PATCH",
            "/applications/default",
            r#"{"name": "\u0000"}"#,
            "validation_error",
        ),
        get(
            "applications cursor %00",
            "/applications?cursor=%00",
            400,
            "invalid_query",
        ),
        post(
            "API key name with \\u0000",
            "/api-keys",
            r#"{"name": "k\u0000", "scope": "admin"}"#,
            400,
            "validation_error",
        ),
        post(
            "API key scope with \\u0000",
            "/api-keys",
            r#"{"name": "k", "scope": "admin\u0000"}"#,
            400,
            "validation_error",
        ),
        post(
            "API key application with \\u0000",
            "/api-keys",
            r#"{"name": "k", "scope": "application", "application": "\u0000"}"#,
            400,
            "validation_error",
        ),
        get(
            "API keys cursor %00",
            "/api-keys?cursor=%00",
            400,
            "invalid_query",
        ),
        post(
            "event type name with \\u0000",
            "/event-types",
            r#"{"name": "a.\u0000"}"#,
            400,
            "validation_error",
        ),
        post(
            "event type description with \\u0000",
            "/event-types",
            r#"{"name": "nul.test", "description": "d\u0000"}"#,
            400,
            "validation_error",
        ),
        case(
            "event type PATCH description with \\u0000",
            "PATCH",
            "/event-types/kept.type",
            r#"{"description": "\u0000"}"#,
            "validation_error",
        ),
    ]
}

#[actix_web::test]
async fn nul_in_any_management_field_or_query_is_a_clear_4xx_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let existing = app
        .create_subscription(json!({"target_url": "https://e.com/keep", "description": "kept"}))
        .await;
    let kept = app
        .post("/event-types", &json!({"name": "kept.type"}))
        .await;
    assert_eq!(kept.status.as_u16(), 201, "{:?}", kept.body);
    let tenancy_before = tenancy_snapshot(&app).await;
    let mut cases = subscription_cases();
    cases.extend(log_cases());
    cases.extend(tenancy_cases());
    run_catalogue(&app, cases, &[("{id}", &id_of(&existing))]).await;
    assert_eq!(
        tenancy_snapshot(&app).await,
        tenancy_before,
        "a bad request changed applications, keys or event types"
    );
}

/// A fingerprint of the tables `TestApp::snapshot` does not cover.
async fn tenancy_snapshot(app: &TestApp) -> String {
    let mut out = String::new();
    for table in ["applications", "api_keys", "event_types"] {
        let sql = format!(
            "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t"
        );
        let h: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&app.db)
            .await
            .expect("snapshot");
        out.push_str(&format!("{table}={h};"));
    }
    out
}
