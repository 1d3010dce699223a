//! Applications: CRUD, bad input, the built-ins, what an application key may see, and the
//! OpenAPI document's coverage of every tenancy route.

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, id_of};

const DEFAULT_ID: &str = "00000000-0000-0000-0000-000000000001";
const OPS_ID: &str = "00000000-0000-0000-0000-000000000002";

#[actix_web::test]
async fn the_two_built_in_applications_exist_with_their_documented_ids() {
    let app = TestApp::spawn().await;
    for (key, id, uid) in [
        ("default", DEFAULT_ID, "default"),
        (DEFAULT_ID, DEFAULT_ID, "default"),
        ("courier-ops", OPS_ID, "courier-ops"),
    ] {
        let a = app.get(&format!("/applications/{key}")).await;
        assert_eq!(a.status, StatusCode::OK, "{key}: {:?}", a.body);
        assert_eq!(a.body["id"], id);
        assert_eq!(a.body["uid"], uid);
        assert_eq!(a.body["builtin"], true);
    }
}

#[actix_web::test]
async fn an_application_is_created_listed_read_patched_and_deleted() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            "/applications",
            &json!({"uid": "acme", "name": "Acme Ltd", "metadata": {"plan": "pro"}, "retention": "30d"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = id_of(&created.body);
    assert_eq!(created.body["uid"], "acme");
    assert_eq!(created.body["metadata"]["plan"], "pro");
    assert_eq!(created.body["retention"], "30d");
    assert_eq!(created.body["retention_secs"], 2_592_000);
    assert_eq!(created.body["builtin"], false);

    let list = app.get("/applications").await;
    assert_eq!(list.status, StatusCode::OK);
    let uids: Vec<&str> = list
        .body
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|a| a["uid"].as_str())
        .collect();
    assert_eq!(uids, ["acme", "courier-ops", "default"]);
    let first_page = app.get("/applications?limit=1").await;
    assert_eq!(first_page.body.as_array().map(Vec::len), Some(1));
    assert_eq!(
        first_page.header("x-next-cursor").as_deref(),
        Some(id.as_str())
    );

    for key in [id.as_str(), "acme"] {
        let got = app.get(&format!("/applications/{key}")).await;
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.body["id"], id.as_str());
    }

    let patched = app
        .call(
            "PATCH",
            "/applications/acme",
            Some(br#"{"name": "Acme Inc", "retention": null, "metadata": {"tier": 2}}"#),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["name"], "Acme Inc");
    assert_eq!(patched.body["retention"], Value::Null);
    assert_eq!(patched.body["metadata"], json!({"tier": 2}));
    assert_eq!(patched.body["uid"], "acme");
    let renamed = app
        .call(
            "PATCH",
            &format!("/applications/{id}"),
            Some(br#"{"uid": "acme-2"}"#),
        )
        .await;
    assert_eq!(renamed.body["uid"], "acme-2");

    let deleted = app.call("DELETE", "/applications/acme-2", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/applications/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call("DELETE", &format!("/applications/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM applications WHERE deleted_at IS NOT NULL")
            .fetch_one(&app.db)
            .await
            .expect("count");
    assert_eq!(rows, 1, "deletion is soft");
    // A deleted application's uid can be used again.
    let again = app.create_application("acme-2").await;
    assert_ne!(id_of(&again), id);
}

#[actix_web::test]
async fn bad_application_input_gets_a_4xx_naming_the_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.create_application("taken").await;
    let before = app.count("SELECT count(*) FROM applications").await;
    let long = "x".repeat(65);
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "POST",
            "/applications",
            json!({"uid": "has space", "name": "n"}).to_string(),
            400,
            "uid",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": long, "name": "n"}).to_string(),
            400,
            "uid",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": "", "name": "n"}).to_string(),
            400,
            "uid",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": "ok", "name": " "}).to_string(),
            400,
            "name",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": "ok", "name": "bell\u{7}"}).to_string(),
            400,
            "name",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": "ok", "name": "n", "metadata": [1]}).to_string(),
            400,
            "metadata",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": "ok", "name": "n", "retention": "5"}).to_string(),
            400,
            "retention",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": "ok", "name": "n", "retention": -1}).to_string(),
            400,
            "retention",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": 5, "name": "n"}).to_string(),
            400,
            "invalid type",
        ),
        (
            "POST",
            "/applications",
            json!({"name": "n"}).to_string(),
            400,
            "uid",
        ),
        ("POST", "/applications", "{not json".to_owned(), 400, "JSON"),
        (
            "POST",
            "/applications",
            json!({"uid": "taken", "name": "n"}).to_string(),
            409,
            "taken",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": "default", "name": "n"}).to_string(),
            409,
            "default",
        ),
        (
            "PATCH",
            "/applications/taken",
            json!({"name": "line\nbreak"}).to_string(),
            400,
            "name",
        ),
        (
            "PATCH",
            "/applications/taken",
            json!({"uid": "default"}).to_string(),
            409,
            "default",
        ),
        (
            "PATCH",
            "/applications/default",
            json!({"uid": "mine"}).to_string(),
            400,
            "uid",
        ),
        (
            "PATCH",
            "/applications/nope",
            json!({"name": "n"}).to_string(),
            404,
            "application",
        ),
        (
            "DELETE",
            "/applications/default",
            String::new(),
            409,
            "built-in",
        ),
        (
            "DELETE",
            "/applications/courier-ops",
            String::new(),
            409,
            "built-in",
        ),
        (
            "GET",
            "/applications/no-such-app",
            String::new(),
            404,
            "application",
        ),
        ("GET", "/applications?limit=0", String::new(), 400, "limit"),
        (
            "GET",
            "/applications/nul%00byte",
            String::new(),
            404,
            "application",
        ),
        (
            "PATCH",
            "/applications/%00",
            json!({"name": "n"}).to_string(),
            404,
            "application",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": "ok", "name": "n", "metadata": {"a": "\u{0}"}}).to_string(),
            400,
            "metadata",
        ),
        (
            "POST",
            "/applications",
            json!({"uid": "ok", "name": "n", "metadata": {"\u{0}": 1}}).to_string(),
            400,
            "metadata",
        ),
        ("PUT", "/applications/taken", String::new(), 405, ""),
    ];
    for (method, path, body, status, hint) in cases {
        let body = (!body.is_empty()).then_some(body.as_bytes());
        let a = app.call(method, path, body).await;
        assert_eq!(a.status.as_u16(), status, "{method} {path}: {:?}", a.body);
        let message = a.body["message"].as_str().unwrap_or("");
        assert!(
            message.contains(hint),
            "{method} {path}: {message:?} should mention {hint:?}"
        );
        assert!(
            a.body["code"].is_string(),
            "{method} {path}: JSON error body"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM applications").await, before);
    let default = app.get("/applications/default").await;
    assert_eq!(default.body["uid"], "default");
}

#[actix_web::test]
async fn an_application_key_sees_its_own_application_and_nothing_else() {
    let app = TestApp::spawn().await;
    let acme = app.create_application("acme").await;
    let other = app.create_application("other").await;
    let (_, key) = app
        .create_key(json!({"name": "acme", "scope": "application", "application": "acme"}))
        .await;

    for path in [
        "/applications/acme".to_owned(),
        format!("/applications/{}", id_of(&acme)),
    ] {
        let a = app.call_as("GET", &path, None, &key).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(a.body["uid"], "acme");
    }
    for path in [
        "/applications/other".to_owned(),
        format!("/applications/{}", id_of(&other)),
        "/applications/default".to_owned(),
        "/applications/no-such-app".to_owned(),
    ] {
        let a = app.call_as("GET", &path, None, &key).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {:?}", a.body);
        assert!(
            !a.raw.windows(5).any(|w| w == b"other"),
            "no data of another application"
        );
    }
    let body = json!({"name": "x"});
    for (method, path) in [
        ("GET", "/applications"),
        ("POST", "/applications"),
        ("PATCH", "/applications/acme"),
        ("PATCH", "/applications/other"),
        ("DELETE", "/applications/acme"),
        ("DELETE", "/applications/other"),
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
    assert_eq!(app.get("/applications/other").await.body["name"], "other");
}

#[actix_web::test]
async fn deleting_an_application_revokes_its_keys_at_once() {
    let app = TestApp::spawn().await;
    app.create_application("gone").await;
    let (key_json, key) = app
        .create_key(json!({"name": "k", "scope": "application", "application": "gone"}))
        .await;
    assert_eq!(
        app.call_as("GET", "/applications/gone", None, &key)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call("DELETE", "/applications/gone", None).await.status,
        StatusCode::NO_CONTENT
    );
    let after = app.call_as("GET", "/applications/gone", None, &key).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let revoked: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT revoked_at FROM api_keys WHERE id = $1::uuid")
            .bind(id_of(&key_json))
            .fetch_one(&app.db)
            .await
            .expect("key row");
    assert!(revoked.is_some());
    let listed = app.get("/api-keys").await;
    assert_eq!(listed.body, json!([]));
}

#[actix_web::test]
async fn the_openapi_document_covers_every_tenancy_route_with_described_answers() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json").await.body;
    for (path, methods) in [
        ("/applications", &["post", "get"][..]),
        ("/applications/{app}", &["get", "patch", "delete"][..]),
        ("/api-keys", &["post", "get"][..]),
        ("/api-keys/{id}", &["delete"][..]),
        ("/event-types", &["post", "get"][..]),
        ("/event-types/{name}", &["get", "patch"][..]),
        ("/auth/session", &["post", "get", "delete"][..]),
    ] {
        for method in methods {
            let op = &doc["paths"][path][method];
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} is documented"));
            for (status, r) in responses {
                let described = r["description"].as_str().is_some_and(|d| !d.is_empty());
                assert!(described, "{method} {path} {status} has a description");
            }
        }
    }
    assert!(
        doc["paths"]["/stream"]["get"]["parameters"]
            .as_array()
            .is_none_or(|ps| ps.iter().all(|p| p["name"] != "api_key"))
    );
}
