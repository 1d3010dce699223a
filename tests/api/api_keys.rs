//! Named API keys: shown once, stored as a hash, usable, revoked on every node within a
//! second, and limited to their scope.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::{TestApp, eventually, id_of};

#[actix_web::test]
async fn a_key_is_shown_once_stored_only_as_its_hash_and_works() {
    let app = TestApp::spawn().await;
    let (created, key) = app
        .create_key(json!({"name": "ci deploys", "scope": "admin"}))
        .await;
    let id = id_of(&created);
    let prefix = created["prefix"].as_str().expect("prefix").to_owned();
    assert!(
        key.starts_with(&format!("{prefix}_")),
        "{key} starts with {prefix}"
    );
    assert!(prefix.starts_with("ck_") && prefix.len() == 15, "{prefix}");
    assert_eq!(created["scope"], "admin");
    assert_eq!(created["application_id"], serde_json::Value::Null);
    assert!(key.len() >= 3 + 12 + 1 + 43);

    let list = app.get("/api-keys").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body[0]["id"], id.as_str());
    assert_eq!(list.body[0]["prefix"], prefix.as_str());
    assert!(list.body[0].get("key").is_none());
    let secret_part = key.rsplit('_').next().expect("secret part");
    assert!(!String::from_utf8_lossy(&list.raw).contains(secret_part));

    let (stored_hash, row_text): (Vec<u8>, String) =
        sqlx::query_as("SELECT token_hash, k::text FROM api_keys k WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db)
            .await
            .expect("row");
    assert_eq!(stored_hash, Sha256::digest(key.as_bytes()).to_vec());
    assert!(!row_text.contains(secret_part), "no column holds the key");

    let used = app.call_as("GET", "/subscriptions/", None, &key).await;
    assert_eq!(used.status, StatusCode::OK, "{:?}", used.body);
    let last_used = eventually(
        "last_used_at to be written",
        Duration::from_secs(5),
        || async {
            let a = app.get("/api-keys").await;
            a.body[0]["last_used_at"].as_str().map(str::to_owned)
        },
    )
    .await;
    assert!(!last_used.is_empty());
}

#[actix_web::test]
async fn a_revoked_key_is_refused_at_once_here_and_within_a_second_on_another_node() {
    let app = TestApp::spawn().await;
    let peer = app.peer("node-b").await;
    let (created, key) = app
        .create_key(json!({"name": "short-lived", "scope": "admin"}))
        .await;
    for node in [&app, &peer] {
        assert_eq!(
            node.call_as("GET", "/api-keys", None, &key).await.status,
            StatusCode::OK
        );
    }
    let revoked = app
        .call("DELETE", &format!("/api-keys/{}", id_of(&created)), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let started = Instant::now();
    let here = app.call_as("GET", "/api-keys", None, &key).await;
    assert_eq!(here.status, StatusCode::UNAUTHORIZED);
    assert_eq!(here.code(), "unauthorized");
    eventually(
        "the peer to refuse the revoked key",
        Duration::from_millis(1500),
        || async {
            let s = peer.call_as("GET", "/api-keys", None, &key).await.status;
            (s == StatusCode::UNAUTHORIZED).then_some(())
        },
    )
    .await;
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(
        app.call("DELETE", &format!("/api-keys/{}", id_of(&created)), None)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "a revoked key is gone"
    );
    assert_eq!(app.get("/api-keys").await.body, json!([]));
}

#[actix_web::test]
async fn an_application_key_gets_403_on_every_admin_route() {
    let app = TestApp::spawn().await;
    app.create_application("acme").await;
    let (created, key) = app
        .create_key(json!({"name": "acme", "scope": "application", "application": "acme"}))
        .await;
    assert_eq!(created["scope"], "application");
    let acme_id = app.get("/applications/acme").await.body["id"].clone();
    assert_eq!(created["application_id"], acme_id);
    let own = id_of(&created);
    let body = json!({"target_url": "https://e.com/x", "name": "n", "scope": "admin", "uid": "u"});
    // (The plain subscription, event, log and stream routes are not admin routes: an
    // application key uses them on its own application — see the tenancy suite.)
    for (method, path) in [
        ("GET", "/api-keys"),
        ("POST", "/api-keys"),
        ("DELETE", &format!("/api-keys/{own}") as &str),
        ("POST", "/event-types"),
        ("PATCH", "/event-types/a.b"),
        ("POST", "/applications"),
        ("GET", "/applications"),
    ] {
        let a = app.call_as(method, path, Some(&body), &key).await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {:?}",
            a.body
        );
        assert_eq!(a.code(), "forbidden");
    }
    assert_eq!(app.count("SELECT count(*) FROM subscriptions").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL")
            .await,
        1
    );
    // The catalog is readable by application keys.
    assert_eq!(
        app.call_as("GET", "/event-types", None, &key).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn bad_key_requests_get_a_4xx_naming_the_field_and_store_nothing() {
    let app = TestApp::spawn().await;
    app.create_application("acme").await;
    let cases = [
        (json!({"name": "k", "scope": "root"}), "scope"),
        (json!({"name": "k", "scope": "application"}), "application"),
        (
            json!({"name": "k", "scope": "admin", "application": "acme"}),
            "application",
        ),
        (
            json!({"name": "k", "scope": "application", "application": "nope"}),
            "application",
        ),
        (
            json!({"name": "k", "scope": "application", "application": "a\u{0}b"}),
            "application",
        ),
        (json!({"name": "", "scope": "admin"}), "name"),
        (json!({"name": "tab\there", "scope": "admin"}), "name"),
        (json!({"name": "x".repeat(129), "scope": "admin"}), "name"),
        (json!({"scope": "admin"}), "name"),
        (json!({"name": "k", "scope": 1}), "invalid type"),
    ];
    for (body, hint) in cases {
        let a = app.post("/api-keys", &body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}: {:?}", a.body);
        let message = a.body["message"].as_str().unwrap_or("");
        assert!(
            message.contains(hint),
            "{body}: {message:?} should mention {hint:?}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM api_keys").await, 0);
    for (method, path, status) in [
        ("DELETE", "/api-keys/not-a-uuid", 400),
        (
            "DELETE",
            "/api-keys/00000000-0000-0000-0000-00000000abcd",
            404,
        ),
        ("GET", "/api-keys?application=nope", 400),
        ("GET", "/api-keys?application=%00", 400),
        ("GET", "/api-keys?limit=9999", 400),
        ("PUT", "/api-keys", 405),
    ] {
        let a = app.call(method, path, None).await;
        assert_eq!(a.status.as_u16(), status, "{method} {path}: {:?}", a.body);
    }
    for token in [
        "ck_",
        "ck_0123456789ab_short",
        "ck_0123456789ab_0123456789012345678901234567890123456789012",
        "not-the-key-at-all-0000",
    ] {
        let a = app.call_as("GET", "/api-keys", None, token).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{token}");
    }
}

#[actix_web::test]
async fn keys_can_be_listed_per_application() {
    let app = TestApp::spawn().await;
    app.create_application("acme").await;
    app.create_application("beta").await;
    app.create_key(json!({"name": "a", "scope": "application", "application": "acme"}))
        .await;
    app.create_key(json!({"name": "b", "scope": "application", "application": "beta"}))
        .await;
    app.create_key(json!({"name": "root", "scope": "admin"}))
        .await;
    let all = app.get("/api-keys").await.body;
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    let acme = app.get("/api-keys?application=acme").await.body;
    let names: Vec<&str> = acme
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    assert_eq!(names, ["a"]);
}
