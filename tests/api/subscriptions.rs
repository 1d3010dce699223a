//! Subscription management, success paths.

use awc::http::StatusCode;
use courier_actors::cache::{SubscriptionCache, redis_pool};
use serde_json::{Value, json};

use crate::support::{TestApp, id_of, redis_url};

#[actix_web::test]
async fn create_accepts_the_original_services_secret_key_and_shows_the_secret_once() {
    let app = TestApp::spawn().await;
    let created = app
        .create_subscription(
            json!({"target_url": "https://example.com/h", "secret_key": "Pass123",
            "event_types": ["order.created"]}),
        )
        .await;
    assert_eq!(created["secret"], "Pass123");
    assert_eq!(created["requires_signature"], true);
    assert_eq!(created["is_active"], true);
    assert_eq!(created["status"], "active");
    let id = id_of(&created);
    let got = app.get(&format!("/subscriptions/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(
        got.body.get("secret").is_none(),
        "get must not show the secret"
    );
    let list = app.get("/subscriptions/").await;
    assert!(
        !String::from_utf8_lossy(&list.raw).contains("Pass123"),
        "list must not show the secret"
    );
}

#[actix_web::test]
async fn create_without_a_secret_generates_a_whsec_secret_and_works_without_trailing_slash() {
    let app = TestApp::spawn().await;
    let a = app
        .post(
            "/subscriptions",
            &json!({"target_url": "http://example.com/x"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert!(
        a.body["secret"]
            .as_str()
            .expect("secret")
            .starts_with("whsec_")
    );
    assert_eq!(a.body["requires_signature"], false);
    assert_eq!(a.body["event_types"], json!([]));
    assert_eq!(a.body["max_in_flight"], 16);
}

#[actix_web::test]
async fn list_pages_with_a_cursor_and_filters_by_status() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(id_of(
            &app.create_subscription(json!({"target_url": format!("https://e.com/{i}")}))
                .await,
        ));
    }
    let mut seen = Vec::new();
    let mut path = "/subscriptions/?limit=2".to_owned();
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        let items = page.body.as_array().expect("a list").clone();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(id_of));
        match page.header("x-next-cursor") {
            Some(c) => path = format!("/subscriptions/?limit=2&cursor={c}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "every subscription once, newest first");

    let paused = app
        .call("POST", &format!("/subscriptions/{}/pause", ids[0]), None)
        .await;
    assert_eq!(paused.body["status"], "paused");
    let only = app.get("/subscriptions/?status=paused").await;
    assert_eq!(only.body.as_array().map(Vec::len), Some(1));
    assert_eq!(id_of(&only.body[0]), ids[0]);
}

#[actix_web::test]
async fn put_replaces_every_field_and_patch_changes_only_what_it_names() {
    let app = TestApp::spawn().await;
    let id = id_of(
        &app.create_subscription(
            json!({"target_url": "https://e.com/a", "event_types": ["a.b"],
            "description": "d", "rate_limit_per_second": 5, "headers": {"X-Team": "t"}}),
        )
        .await,
    );
    let path = format!("/subscriptions/{id}");
    let patched = app
        .call(
            "PATCH",
            &path,
            Some(br#"{"event_types": ["order.*"], "rate_limit_per_second": null}"#),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["event_types"], json!(["order.*"]));
    assert_eq!(patched.body["rate_limit_per_second"], Value::Null);
    assert_eq!(patched.body["description"], "d");
    assert_eq!(patched.body["headers"], json!({"x-team": "t"}));

    let put = app
        .call("PUT", &path, Some(br#"{"target_url": "https://e.com/b"}"#))
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.body["target_url"], "https://e.com/b");
    assert_eq!(put.body["event_types"], json!([]));
    assert_eq!(put.body["description"], Value::Null);
    assert_eq!(put.body["headers"], json!({}));
    assert_eq!(app.get(&path).await.body["target_url"], "https://e.com/b");
}

#[actix_web::test]
async fn every_version_is_cached_under_its_own_key_so_a_stale_copy_is_never_served() {
    let app = TestApp::spawn().await;
    let created = app
        .create_subscription(json!({"target_url": "https://e.com/a"}))
        .await;
    let id: uuid::Uuid = id_of(&created).parse().expect("uuid");
    let cache = SubscriptionCache::new(
        redis_pool(&redis_url(), 2).expect("redis url"),
        app.redis_prefix.clone(),
        std::time::Duration::from_secs(600),
    );
    assert!(cache.is_cached(id, 1).await, "create caches version 1");
    let a = app
        .call(
            "PATCH",
            &format!("/subscriptions/{id}"),
            Some(br#"{"description": "x"}"#),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(cache.is_cached(id, 2).await, "the change caches version 2");
    let rows = cache.get_versions(&app.db, &[(id, 2)]).await.expect("db");
    assert_eq!(rows[&id].description.as_deref(), Some("x"));
    assert_eq!(rows[&id].version, 2);
    app.call("POST", &format!("/subscriptions/{id}/pause"), None)
        .await;
    let rows = cache.get_versions(&app.db, &[(id, 3)]).await.expect("db");
    assert_eq!(
        rows[&id].status, "paused",
        "asking for the new version never gets the old one"
    );
}

#[actix_web::test]
async fn pause_and_resume_change_the_status() {
    let app = TestApp::spawn().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": "https://e.com/a"}))
            .await,
    );
    let p = app
        .call("POST", &format!("/subscriptions/{id}/pause"), None)
        .await;
    assert_eq!(
        (
            p.status,
            p.body["status"].clone(),
            p.body["is_active"].clone()
        ),
        (StatusCode::OK, json!("paused"), json!(false))
    );
    let r = app
        .call("POST", &format!("/subscriptions/{id}/resume"), None)
        .await;
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (StatusCode::OK, json!("active"))
    );
}

#[actix_web::test]
async fn rotate_secret_returns_a_new_secret_and_keeps_the_old_one_signing_for_the_overlap() {
    let app = TestApp::spawn_with(&[("COURIER_SECRET_OVERLAP", "2h")]).await;
    let created = app
        .create_subscription(json!({"target_url": "https://e.com/a", "secret": "first-secret"}))
        .await;
    let id = id_of(&created);
    let rotated = app
        .call("POST", &format!("/subscriptions/{id}/rotate-secret"), None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_secret = rotated.body["secret"].as_str().expect("secret").to_owned();
    assert!(new_secret.starts_with("whsec_"));
    let (prev, hours): (Option<String>, f64) = sqlx::query_as(
        "SELECT previous_secret, extract(epoch from previous_secret_expires_at - now())::float8 / 3600 \
         FROM subscriptions WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&app.db)
    .await
    .expect("row");
    let prev = prev.expect("the rotated-out secret is kept");
    assert!(prev.starts_with("enc:v1:"), "stored sealed: {prev}");
    assert!(!prev.contains("first-secret"));
    assert!((1.9..=2.0).contains(&hours), "overlap is 2h, got {hours}");
    let old_signed = app.ingest_signed(&id, "a.b", "first-secret", b"{}").await;
    assert_eq!(
        old_signed.status,
        StatusCode::ACCEPTED,
        "the old secret still verifies"
    );
    let chosen = app
        .call(
            "POST",
            &format!("/subscriptions/{id}/rotate-secret"),
            Some(br#"{"secret": "my-own-secret"}"#),
        )
        .await;
    assert_eq!(chosen.body["secret"], "my-own-secret");
}

#[actix_web::test]
async fn delete_hides_the_subscription_and_answers_204() {
    let app = TestApp::spawn().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": "https://e.com/a"}))
            .await,
    );
    let d = app
        .call("DELETE", &format!("/subscriptions/{id}"), None)
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/subscriptions/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/subscriptions/").await.body, json!([]));
    assert_eq!(
        app.call("DELETE", &format!("/subscriptions/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
