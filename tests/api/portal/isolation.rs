//! A portal session reaches its own application's portal routes and nothing else: another
//! application's ids are `404` on every portal route (plain or under `/applications/{app}`),
//! and every route outside the portal — admin routes, keys, links, applications, ingestion,
//! aggregates and the live stream, even its own application's — is `403`.

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{Value, json};

use super::session;
use crate::receiver::Receiver;
use crate::support::{TestApp, id_of};

/// One application with a subscription, a delivered message and a portal session.
struct Side {
    uid: &'static str,
    sub: String,
    delivery: String,
    message: String,
    portal: String,
}

async fn side(app: &TestApp, uid: &'static str, rx: &Receiver) -> Side {
    app.create_application(uid).await;
    let created = app
        .post(
            &format!("/applications/{uid}/subscriptions"),
            &json!({"target_url": rx.url(&format!("/{uid}"))}),
        )
        .await;
    let sub = id_of(&created.body);
    let sent = app
        .post(
            &format!("/applications/{uid}/events"),
            &json!({"event_type": "order.created", "payload": {"tenant": uid}}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{:?}", sent.body);
    Side {
        uid,
        sub,
        delivery: sent.body["task_id"][0]
            .as_str()
            .expect("delivery")
            .to_owned(),
        message: sent.body["message_id"]
            .as_str()
            .expect("message")
            .to_owned(),
        portal: session(app, uid, false).await,
    }
}

/// Every portal route naming an object of `other`, plain and under both applications.
fn portal_routes_on(other: &Side, own_uid: &str) -> Vec<(&'static str, String)> {
    let (s, d, m) = (&other.sub, &other.delivery, &other.message);
    let mut out = Vec::new();
    for prefix in [String::new(), format!("/applications/{own_uid}")] {
        for (method, tail) in [
            ("GET", format!("/subscriptions/{s}")),
            ("PUT", format!("/subscriptions/{s}")),
            ("PATCH", format!("/subscriptions/{s}")),
            ("DELETE", format!("/subscriptions/{s}")),
            ("POST", format!("/subscriptions/{s}/pause")),
            ("POST", format!("/subscriptions/{s}/resume")),
            ("POST", format!("/subscriptions/{s}/rotate-secret")),
            ("POST", format!("/subscriptions/{s}/test")),
            ("GET", format!("/subscriptions/{s}/deliveries")),
            ("GET", format!("/subscriptions/{s}/recent-deliveries")),
            ("GET", format!("/subscriptions/{s}/stats")),
            (
                "POST",
                format!("/subscriptions/{s}/recover?since=2020-01-01T00:00:00Z"),
            ),
            ("GET", format!("/deliveries/{d}")),
            ("GET", format!("/webhooks/status/{d}")),
            ("POST", format!("/deliveries/{d}/retry")),
            ("GET", format!("/messages/{m}")),
        ] {
            out.push((method, format!("{prefix}{tail}")));
        }
    }
    // The other application named in the path is not reachable at all.
    let u = other.uid;
    for (method, path) in [
        ("GET", format!("/applications/{u}/subscriptions")),
        ("POST", format!("/applications/{u}/subscriptions")),
        ("GET", format!("/applications/{u}/subscriptions/{s}")),
        ("GET", format!("/applications/{u}/deliveries/{d}")),
        ("GET", format!("/applications/{u}/stats/subscriptions")),
    ] {
        out.push((method, path));
    }
    out
}

/// Routes outside the portal, for its own application too: each must be `403`.
fn outside_the_portal(own: &Side) -> Vec<(&'static str, String)> {
    let (u, s) = (own.uid, &own.sub);
    [
        ("GET", "/api-keys".to_owned()),
        ("POST", "/api-keys".to_owned()),
        ("GET", "/applications".to_owned()),
        ("POST", "/applications".to_owned()),
        ("GET", format!("/applications/{u}")),
        ("PATCH", format!("/applications/{u}")),
        ("DELETE", format!("/applications/{u}")),
        ("GET", format!("/applications/{u}/portal-links")),
        ("POST", format!("/applications/{u}/portal-links")),
        ("POST", "/event-types".to_owned()),
        ("PATCH", "/event-types/order.created".to_owned()),
        ("POST", "/events".to_owned()),
        ("POST", format!("/applications/{u}/events")),
        ("POST", format!("/ingest/{s}?event_type=order.created")),
        ("POST", format!("/webhooks/ingest/{s}")),
        ("GET", "/deliveries".to_owned()),
        ("GET", "/messages".to_owned()),
        ("POST", "/deliveries/retry".to_owned()),
        ("POST", "/deliveries/cancel".to_owned()),
        ("GET", "/stats/overview".to_owned()),
        ("GET", format!("/applications/{u}/deliveries")),
        ("GET", "/stream".to_owned()),
        ("GET", "/auth/session".to_owned()),
    ]
    .into_iter()
    .collect()
}

fn body_for(path: &str) -> Value {
    if path.contains("/ingest/") || path.ends_with("/events") {
        json!({"event_type": "order.created", "payload": {"x": 1}})
    } else if path.contains("/deliveries/") {
        json!({"subscription_id": "00000000-0000-0000-0000-000000000000"})
    } else {
        json!({"target_url": "http://127.0.0.1:9/x", "name": "x", "uid": "x", "scope": "admin"})
    }
}

#[actix_web::test]
async fn a_portal_session_reaches_no_other_applications_objects_and_no_route_outside_the_portal() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let (a, b) = (
        side(&app, "acme", &rx).await,
        side(&app, "globex", &rx).await,
    );
    rx.wait_for(2, Duration::from_secs(10)).await;
    let before = app.snapshot().await;
    for (me, other) in [(&a, &b), (&b, &a)] {
        for (method, path) in portal_routes_on(other, me.uid) {
            let r = app
                .call_as(method, &path, Some(&body_for(&path)), &me.portal)
                .await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{method} {path} from {}: {:?}",
                me.uid,
                r.body
            );
            assert!(
                !r.raw.windows(36).any(|w| w == other.sub.as_bytes()),
                "{path} leaks an id"
            );
        }
        for (method, path) in outside_the_portal(me) {
            let r = app
                .call_as(method, &path, Some(&body_for(&path)), &me.portal)
                .await;
            let refused = if path.contains("/ingest/") {
                // Ingestion never takes a portal session as its credential.
                matches!(r.status.as_u16(), 401 | 403)
            } else {
                r.status == StatusCode::FORBIDDEN
            };
            assert!(
                refused,
                "{method} {path} from {}: {} {:?}",
                me.uid, r.status, r.body
            );
        }
    }
    assert_eq!(app.snapshot().await, before, "nothing changed anywhere");
    // Lists and health show the session's own application only.
    let subs = app.call_as("GET", "/subscriptions", None, &a.portal).await;
    let ids: Vec<&str> = subs
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, vec![a.sub.as_str()]);
    let health = app
        .call_as("GET", "/stats/subscriptions", None, &a.portal)
        .await;
    assert_eq!(health.status, StatusCode::OK, "{:?}", health.body);
    let text = String::from_utf8_lossy(&health.raw);
    assert!(text.contains(&a.sub) && !text.contains(&b.sub), "{text}");
    // And its own objects are reachable on every portal route.
    for path in [
        format!("/deliveries/{}", a.delivery),
        format!("/messages/{}", a.message),
        format!("/subscriptions/{}/deliveries", a.sub),
        format!("/applications/acme/subscriptions/{}", a.sub),
    ] {
        let r = app.call_as("GET", &path, None, &a.portal).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
}
