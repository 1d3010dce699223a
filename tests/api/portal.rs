//! The consumer portal's server side: portal links (created by an admin or the application's
//! key, opened once, refused when used, expired or revoked), the sessions they open (what
//! they reach, read-only enforcement on every state-changing route), and the framing headers
//! of the portal's and the dashboard's pages (`portal/edges.rs`, with bad input). Isolation
//! between applications is in `portal/isolation.rs`.

mod edges;
mod isolation;

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::support::{Answer, TestApp, id_of};

/// Creates a portal link for `app` with the bootstrap key.
pub async fn link(app: &TestApp, uid: &str, body: Value) -> Value {
    let a = app
        .post(&format!("/applications/{uid}/portal-links"), &body)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "create link: {:?}", a.body);
    a.body
}

/// Opens a link's token: the answer of `POST /portal/session`.
pub async fn open(app: &TestApp, token: &str) -> Answer {
    let body = json!({ "token": token }).to_string();
    app.call_with("POST", "/portal/session", Some(body.as_bytes()), &[])
        .await
}

/// A portal session token for a new link of `uid`.
pub async fn session(app: &TestApp, uid: &str, read_only: bool) -> String {
    let l = link(app, uid, json!({ "read_only": read_only })).await;
    let opened = open(app, l["token"].as_str().expect("token")).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{:?}", opened.body);
    opened.body["session_token"]
        .as_str()
        .expect("session token")
        .to_owned()
}

#[actix_web::test]
async fn a_link_opens_once_into_a_session_of_its_application_with_its_brand() {
    let app = TestApp::spawn().await;
    let meta = json!({"portal": {"name": "Acme", "brand_color": "#0A7", "logo_url": "https://acme.example/logo.svg"}});
    let created = app
        .post(
            "/applications",
            &json!({"uid": "acme", "name": "Acme Ltd", "metadata": meta}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let l = link(&app, "acme", json!({"ttl": "2h"})).await;
    let token = l["token"].as_str().expect("token");
    assert!(token.starts_with("cpl_") && token.len() == 47, "{token}");
    assert!(
        l["url"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/portal?token={token}"))
    );
    let expires = chrono::DateTime::parse_from_rfc3339(l["expires_at"].as_str().expect("t"))
        .expect("rfc3339");
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(119) && left <= chrono::Duration::hours(2));

    let opened = open(&app, token).await;
    assert_eq!(opened.status, StatusCode::CREATED, "{:?}", opened.body);
    assert_eq!(opened.header("cache-control").as_deref(), Some("no-store"));
    let b = &opened.body;
    assert_eq!(b["application"]["uid"], "acme");
    assert_eq!(b["read_only"], false);
    assert_eq!(
        b["expires_at"], l["expires_at"],
        "the session lasts as long as the link"
    );
    assert_eq!(
        b["brand"],
        json!({"name": "Acme", "brand_color": "#0a7", "logo_url": "https://acme.example/logo.svg"})
    );
    assert_eq!(b["secret_overlap_secs"], 86_400);
    let sess = b["session_token"].as_str().expect("session").to_owned();
    assert!(sess.starts_with("cps_"));

    let again = open(&app, token).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a link opens once");
    assert_eq!(again.code(), "portal_link_invalid");

    let me = app.call_as("GET", "/portal/session", None, &sess).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert!(
        me.body.get("session_token").is_none(),
        "the token is shown once"
    );
    assert_eq!(me.body["application"]["name"], "Acme Ltd");

    // The session manages the application's endpoints, with the catalog as a picker.
    let body = json!({"target_url": "http://127.0.0.1:9/acme", "event_types": ["order.*"]});
    let sub = app
        .call_as("POST", "/subscriptions", Some(&body), &sess)
        .await;
    assert_eq!(sub.status, StatusCode::CREATED, "{:?}", sub.body);
    assert_eq!(sub.body["application_id"], created.body["id"]);
    assert!(sub.body["secret"].as_str().is_some(), "the secret, once");
    let listed = app.call_as("GET", "/subscriptions", None, &sess).await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));
    assert_eq!(listed.body[0]["id"], sub.body["id"]);
    assert!(listed.body[0].get("secret").is_none());
    let catalog = app.call_as("GET", "/event-types", None, &sess).await;
    assert_eq!(catalog.status, StatusCode::OK, "{:?}", catalog.body);

    // The admin lists the link (used now), never its token.
    let links = app.get("/applications/acme/portal-links").await;
    assert_eq!(links.status, StatusCode::OK);
    assert_eq!(links.body[0]["id"], l["id"]);
    assert!(links.body[0]["used_at"].is_string());
    let raw = String::from_utf8_lossy(&links.raw);
    assert!(!raw.contains(token) && !raw.contains("token"), "{raw}");

    // A browser session cannot be made from a portal session.
    let cookie = app.call_as("POST", "/auth/session", None, &sess).await;
    assert_eq!(cookie.status, StatusCode::UNAUTHORIZED);
    let ended = app.call_as("DELETE", "/portal/session", None, &sess).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    let after = app.call_as("GET", "/subscriptions", None, &sess).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.code(), "portal_session_ended");
}

#[actix_web::test]
async fn the_applications_own_key_makes_links_and_another_applications_key_cannot() {
    let app = TestApp::spawn().await;
    app.create_application("acme").await;
    app.create_application("globex").await;
    let (_, acme_key) = app
        .create_key(json!({"name": "a", "scope": "application", "application": "acme"}))
        .await;
    let own = app
        .call_as(
            "POST",
            "/applications/acme/portal-links",
            Some(&json!({"read_only": true})),
            &acme_key,
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED, "{:?}", own.body);
    assert_eq!(own.body["read_only"], true);
    let id = id_of(&own.body);
    for (method, path) in [
        ("POST", "/applications/globex/portal-links".to_owned()),
        ("GET", "/applications/globex/portal-links".to_owned()),
        ("DELETE", format!("/applications/globex/portal-links/{id}")),
    ] {
        let r = app
            .call_as(method, &path, Some(&json!({})), &acme_key)
            .await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {:?}",
            r.body
        );
    }
    // The admin cannot revoke acme's link through globex either.
    let wrong = app
        .call(
            "DELETE",
            &format!("/applications/globex/portal-links/{id}"),
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let listed = app
        .call_as("GET", "/applications/acme/portal-links", None, &acme_key)
        .await;
    assert_eq!(listed.body[0]["id"], own.body["id"]);
}

#[actix_web::test]
async fn expired_revoked_and_deleted_applications_links_and_sessions_are_refused() {
    let app = TestApp::spawn().await;
    app.create_application("acme").await;
    // Expired before it was opened.
    let stale = link(&app, "acme", json!({})).await;
    sqlx::query("UPDATE portal_links SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1::uuid")
        .bind(stale["id"].as_str().expect("id"))
        .execute(&app.db)
        .await
        .expect("expire");
    let r = open(&app, stale["token"].as_str().expect("token")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "portal_link_invalid");
    // A session whose time is up (its expiry is the link's) stops within a second.
    let sess = session(&app, "acme", false).await;
    for sql in [
        "UPDATE sessions SET expires_at = now() WHERE kind = 'portal'",
        "UPDATE portal_links SET created_at = now() - interval '1 hour', expires_at = now()",
    ] {
        sqlx::query(sql).execute(&app.db).await.expect("expire");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = app.call_as("GET", "/subscriptions", None, &sess).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    // Revoked before it was opened, and revoked while its session is open.
    let unopened = link(&app, "acme", json!({})).await;
    let gone = app
        .call(
            "DELETE",
            &format!("/applications/acme/portal-links/{}", id_of(&unopened)),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        open(&app, unopened["token"].as_str().expect("t"))
            .await
            .code(),
        "portal_link_invalid"
    );
    let opened = link(&app, "acme", json!({})).await;
    let live = open(&app, opened["token"].as_str().expect("t")).await;
    let sess = live.body["session_token"].as_str().expect("s").to_owned();
    assert_eq!(
        app.call_as("GET", "/subscriptions", None, &sess)
            .await
            .status,
        StatusCode::OK
    );
    let path = format!("/applications/acme/portal-links/{}", id_of(&opened));
    assert_eq!(
        app.call("DELETE", &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    let r = app.call_as("GET", "/subscriptions", None, &sess).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "revoked at once on this node"
    );
    assert_eq!(
        app.call("DELETE", &path, None).await.status,
        StatusCode::NOT_FOUND
    );
    let listed = app.get("/applications/acme/portal-links").await;
    assert_eq!(
        listed.body,
        json!([]),
        "revoked and expired links are not listed"
    );
    // Deleting the application ends its portal sessions.
    let sess = session(&app, "acme", false).await;
    assert_eq!(
        app.call("DELETE", "/applications/acme", None).await.status,
        StatusCode::NO_CONTENT
    );
    let r = app.call_as("GET", "/subscriptions", None, &sess).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// Every state-changing route a portal session could call on its own application's objects.
fn changes(sub: &str, delivery: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for prefix in ["", "/applications/acme"] {
        for (method, tail) in [
            ("POST", "/subscriptions".to_owned()),
            ("PUT", format!("/subscriptions/{sub}")),
            ("PATCH", format!("/subscriptions/{sub}")),
            ("DELETE", format!("/subscriptions/{sub}")),
            ("POST", format!("/subscriptions/{sub}/pause")),
            ("POST", format!("/subscriptions/{sub}/resume")),
            ("POST", format!("/subscriptions/{sub}/rotate-secret")),
            ("POST", format!("/subscriptions/{sub}/test")),
            (
                "POST",
                format!("/subscriptions/{sub}/recover?since=2020-01-01T00:00:00Z"),
            ),
            ("POST", format!("/deliveries/{delivery}/retry")),
        ] {
            out.push((method, format!("{prefix}{tail}")));
        }
    }
    out
}

#[actix_web::test]
async fn a_read_only_session_reads_everything_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    app.create_application("acme").await;
    let body = json!({"target_url": rx.url("/acme")});
    let sub = app.post("/applications/acme/subscriptions", &body).await;
    let sub = id_of(&sub.body);
    let sent = app
        .post(
            "/applications/acme/events",
            &json!({"event_type": "order.created", "payload": {}}),
        )
        .await;
    let delivery = sent.body["task_id"][0]
        .as_str()
        .expect("delivery")
        .to_owned();
    rx.wait_for(1, Duration::from_secs(10)).await;
    let sess = session(&app, "acme", true).await;
    let me = app.call_as("GET", "/portal/session", None, &sess).await;
    assert_eq!(me.body["read_only"], true);
    for path in [
        "/subscriptions".to_owned(),
        format!("/subscriptions/{sub}"),
        format!("/subscriptions/{sub}/deliveries?status=succeeded"),
        format!("/subscriptions/{sub}/stats"),
        format!("/deliveries/{delivery}"),
        "/stats/subscriptions".to_owned(),
        "/event-types".to_owned(),
    ] {
        let r = app.call_as("GET", &path, None, &sess).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {:?}", r.body);
    }
    let before = app.snapshot().await;
    let edit = json!({"target_url": "http://127.0.0.1:9/x"});
    for (method, path) in changes(&sub, &delivery) {
        let r = app.call_as(method, &path, Some(&edit), &sess).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {:?}",
            r.body
        );
        assert_eq!(r.code(), "read_only", "{method} {path}");
    }
    assert_eq!(
        app.snapshot().await,
        before,
        "a read-only session changed nothing"
    );
    // The same routes with a full session do change things (so the list above is real).
    let full = session(&app, "acme", false).await;
    let paused = app
        .call_as("POST", &format!("/subscriptions/{sub}/pause"), None, &full)
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{:?}", paused.body);
    assert_eq!(paused.body["status"], "paused");
}
