//! Browser sessions: the cookie's flags, the stream over the cookie, no key in the URL, the
//! CSRF rule, logout, and sessions ending with the credential they came from.

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::json;

use crate::support::{API_KEY, Answer, TestApp, eventually, id_of, session_cookie_of};

async fn login(app: &TestApp, key: &str) -> (Answer, String) {
    let a = app.call_as("POST", "/auth/session", None, key).await;
    assert_eq!(a.status, StatusCode::CREATED, "login: {:?}", a.body);
    let cookie = session_cookie_of(&a);
    (a, cookie)
}

async fn with_cookie(
    app: &TestApp,
    method: &str,
    path: &str,
    cookie: &str,
    extra: &[(&str, &str)],
) -> Answer {
    let mut headers = vec![("Cookie", cookie)];
    headers.extend_from_slice(extra);
    let body = (method != "GET" && method != "DELETE")
        .then_some(&br#"{"uid": "from-cookie", "name": "n"}"#[..]);
    app.call_with(method, path, body, &headers).await
}

#[actix_web::test]
async fn the_session_cookie_is_http_only_strict_and_lasts_the_configured_time() {
    let app = TestApp::spawn().await;
    let (a, cookie) = login(&app, API_KEY).await;
    let set = a.header("set-cookie").expect("cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set.contains(flag), "{set} has {flag}");
    }
    assert!(!set.contains("Secure"), "plain http: no Secure flag");
    assert!(cookie.starts_with("courier_session=cs_"), "{cookie}");
    assert!(!set.contains(API_KEY));
    assert_eq!(a.body["kind"], "bootstrap");
    assert_eq!(a.body["scope"], "admin");
    assert!(a.body["expires_at"].is_string());
    assert_eq!(a.header("cache-control").as_deref(), Some("no-store"));

    let me = with_cookie(&app, "GET", "/auth/session", &cookie, &[]).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["kind"], "bootstrap");
    let stored: i64 = app
        .count("SELECT count(*) FROM sessions WHERE kind = 'bootstrap'")
        .await;
    assert_eq!(stored, 1);
    let token = cookie.trim_start_matches("courier_session=");
    let raw: String = sqlx::query_scalar("SELECT string_agg(s::text, '|') FROM sessions s")
        .fetch_one(&app.db)
        .await
        .expect("rows");
    assert!(!raw.contains(token), "only the hash is stored");

    let short = TestApp::spawn_with(&[
        ("COURIER_SESSION_TTL", "1m"),
        ("COURIER_SECURE_COOKIES", "true"),
    ])
    .await;
    let (a, _) = login(&short, API_KEY).await;
    let set = a.header("set-cookie").expect("cookie");
    assert!(
        set.contains("Max-Age=60") && set.contains("; Secure"),
        "{set}"
    );
    let forwarded = app
        .call_with(
            "POST",
            "/auth/session",
            None,
            &[
                ("Authorization", &format!("Bearer {API_KEY}")),
                ("X-Forwarded-Proto", "https"),
            ],
        )
        .await;
    assert!(
        forwarded
            .header("set-cookie")
            .is_some_and(|c| c.contains("; Secure"))
    );
}

#[actix_web::test]
async fn the_cookie_opens_the_live_stream_and_a_key_in_the_url_no_longer_does() {
    let app = TestApp::spawn().await;
    let (_, cookie) = login(&app, API_KEY).await;
    let stream = app
        .client
        .get(app.url("/stream"))
        .insert_header(("Cookie", cookie.as_str()))
        .send()
        .await
        .expect("stream opens");
    assert_eq!(stream.status(), StatusCode::OK);
    let ct = stream
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    drop(stream);

    for path in [
        format!("/stream?api_key={API_KEY}"),
        format!("/subscriptions/?api_key={API_KEY}"),
        format!("/api-keys?api_key={API_KEY}"),
    ] {
        let a = app.call_with("GET", &path, None, &[]).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let bogus = app
        .call_with(
            "GET",
            "/stream",
            None,
            &[("Cookie", "courier_session=cs_forged")],
        )
        .await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_cookie_authenticated_change_needs_the_csrf_header_and_our_origin() {
    let app = TestApp::spawn().await;
    let (_, cookie) = login(&app, API_KEY).await;
    let bare = with_cookie(&app, "POST", "/applications", &cookie, &[]).await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN, "{:?}", bare.body);
    assert_eq!(bare.code(), "csrf_rejected");
    let foreign = with_cookie(
        &app,
        "POST",
        "/applications",
        &cookie,
        &[("X-Courier-CSRF", "1"), ("Origin", "https://evil.example")],
    )
    .await;
    assert_eq!(foreign.code(), "csrf_rejected");
    assert_eq!(app.count("SELECT count(*) FROM applications").await, 2);

    let origin = app.base.clone();
    let ok = with_cookie(
        &app,
        "POST",
        "/applications",
        &cookie,
        &[("X-Courier-CSRF", "1"), ("Origin", &origin)],
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    let reads = with_cookie(&app, "GET", "/applications", &cookie, &[]).await;
    assert_eq!(reads.status, StatusCode::OK, "reads need no CSRF header");
    // A bearer request is not subject to the rule.
    let bearer = app
        .post("/applications", &json!({"uid": "by-bearer", "name": "n"}))
        .await;
    assert_eq!(bearer.status, StatusCode::CREATED);
    // A wrong bearer is refused even beside a good cookie.
    let mixed = app
        .call_with(
            "GET",
            "/applications",
            None,
            &[
                ("Cookie", &cookie),
                ("Authorization", "Bearer wrong-wrong-wrong-wrong"),
            ],
        )
        .await;
    assert_eq!(mixed.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn logging_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let (_, cookie) = login(&app, API_KEY).await;
    let refused = with_cookie(&app, "DELETE", "/auth/session", &cookie, &[]).await;
    assert_eq!(refused.code(), "csrf_rejected");
    let out = with_cookie(
        &app,
        "DELETE",
        "/auth/session",
        &cookie,
        &[("X-Courier-CSRF", "1")],
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(
        out.header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    let after = with_cookie(&app, "GET", "/auth/session", &cookie, &[]).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
}

#[actix_web::test]
async fn a_session_needs_a_key_in_the_header_and_ends_with_that_key() {
    let app = TestApp::spawn().await;
    app.create_application("acme").await;
    let (created, key) = app
        .create_key(json!({"name": "portal", "scope": "application", "application": "acme"}))
        .await;
    let (a, cookie) = login(&app, &key).await;
    assert_eq!(a.body["kind"], "application_key");
    assert_eq!(a.body["key_id"], id_of(&created).as_str());
    let own = with_cookie(&app, "GET", "/applications/acme", &cookie, &[]).await;
    assert_eq!(own.status, StatusCode::OK);
    let admin = with_cookie(&app, "GET", "/api-keys", &cookie, &[]).await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN);

    let from_cookie = with_cookie(
        &app,
        "POST",
        "/auth/session",
        &cookie,
        &[("X-Courier-CSRF", "1")],
    )
    .await;
    assert_eq!(
        from_cookie.status,
        StatusCode::UNAUTHORIZED,
        "a session cannot make a session"
    );
    let wrong = app
        .call_as("POST", "/auth/session", None, "wrong-wrong-wrong-wrong")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    app.call("DELETE", &format!("/api-keys/{}", id_of(&created)), None)
        .await;
    let after = with_cookie(&app, "GET", "/applications/acme", &cookie, &[]).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("SELECT count(*) FROM sessions").await, 0);
}

#[actix_web::test]
async fn an_expired_session_and_a_changed_bootstrap_key_end_sessions() {
    let app = TestApp::spawn().await;
    let (_, cookie) = login(&app, API_KEY).await;
    let rotated = app
        .peer_with(
            "node-b",
            &[("COURIER_API_KEY", "a-different-bootstrap-key")],
        )
        .await;
    let on_peer = with_cookie(&rotated, "GET", "/auth/session", &cookie, &[]).await;
    assert_eq!(
        on_peer.status,
        StatusCode::UNAUTHORIZED,
        "the key it came from is gone there"
    );
    assert_eq!(
        with_cookie(&app, "GET", "/auth/session", &cookie, &[])
            .await
            .status,
        StatusCode::OK
    );

    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .expect("expire");
    eventually(
        "the expired session to be refused",
        Duration::from_millis(1500),
        || async {
            let s = with_cookie(&app, "GET", "/auth/session", &cookie, &[])
                .await
                .status;
            (s == StatusCode::UNAUTHORIZED).then_some(())
        },
    )
    .await;
}
