//! The portal's edges: link requests with bad input get a clear 4xx, and the framing headers
//! of the portal's pages (only the configured origins) and the dashboard's (nobody).

use awc::http::StatusCode;
use serde_json::json;

use super::open;
use crate::support::TestApp;

#[actix_web::test]
async fn link_requests_with_bad_input_get_clear_errors() {
    let app = TestApp::spawn().await;
    app.create_application("acme").await;
    for (body, code) in [
        (r#"{"ttl": "8d"}"#, "validation_error"),
        (r#"{"ttl": "10s"}"#, "validation_error"),
        (r#"{"read_only": "yes"}"#, "invalid_json"),
        ("not json", "invalid_json"),
    ] {
        let r = app
            .call(
                "POST",
                "/applications/acme/portal-links",
                Some(body.as_bytes()),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.code(), code, "{body}");
    }
    let empty = app
        .call("POST", "/applications/acme/portal-links", None)
        .await;
    assert_eq!(empty.status, StatusCode::CREATED, "no body: the defaults");
    assert_eq!(
        app.call("POST", "/applications/nope/portal-links", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let bad_id = app
        .call("DELETE", "/applications/acme/portal-links/x", None)
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    let none = app
        .call_with("POST", "/portal/session", Some(b"{}"), &[])
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    let wrong = open(&app, "cpl_0000000000000000000000000000000000000000000").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let admin = app.get("/portal/session").await;
    assert_eq!(
        admin.status,
        StatusCode::FORBIDDEN,
        "only a portal session has one"
    );
    let anon = app.call_with("GET", "/portal/session", None, &[]).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    let fake = app
        .call_as(
            "GET",
            "/subscriptions",
            None,
            "cps_0000000000000000000000000000000000000000000",
        )
        .await;
    assert_eq!(fake.status, StatusCode::UNAUTHORIZED);
    // metadata.portal is checked when it is written.
    for meta in [
        json!({"portal": {"brand_color": "red"}}),
        json!({"portal": {"logo_url": "http://x.example/l.png"}}),
    ] {
        let r = app
            .post(
                "/applications",
                &json!({"uid": "x", "name": "x", "metadata": meta}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{meta}");
        let p = app
            .call(
                "PATCH",
                "/applications/acme",
                Some(json!({"metadata": meta}).to_string().as_bytes()),
            )
            .await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{meta}");
        assert!(
            p.body["message"]
                .as_str()
                .unwrap_or("")
                .contains("metadata.portal")
        );
    }
}

fn build_dir() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("courier-portal-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("index.html"), "<div id=\"root\">dashboard</div>").expect("index");
    std::fs::write(dir.join("portal.html"), "<div id=\"root\">portal</div>").expect("portal");
    dir
}

#[actix_web::test]
async fn portal_pages_may_be_framed_by_the_configured_origins_and_dashboard_pages_by_nobody() {
    let dir = build_dir();
    let dir_s = dir.to_str().expect("utf-8");
    let origins = "http://127.0.0.1:9999, https://shop.example/";
    let app = TestApp::spawn_with(&[
        ("COURIER_DASHBOARD_DIR", dir_s),
        ("COURIER_PORTAL_ORIGINS", origins),
    ])
    .await;
    for path in ["/portal?token=cpl_x", "/portal/endpoints/123"] {
        let page = app.call_with("GET", path, None, &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(String::from_utf8_lossy(&page.raw).contains("portal"));
        assert_eq!(
            page.header("content-security-policy").as_deref(),
            Some("frame-ancestors 'self' http://127.0.0.1:9999 https://shop.example")
        );
        assert_eq!(page.header("x-frame-options"), None);
        assert_eq!(
            page.header("referrer-policy").as_deref(),
            Some("no-referrer")
        );
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    }
    for path in ["/", "/ui/deliveries"] {
        let page = app.call_with("GET", path, None, &[]).await;
        assert!(
            String::from_utf8_lossy(&page.raw).contains("dashboard"),
            "{path}"
        );
        assert_eq!(
            page.header("content-security-policy").as_deref(),
            Some("frame-ancestors 'none'")
        );
        assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    }
    let plain = TestApp::spawn_with(&[("COURIER_DASHBOARD_DIR", dir_s)]).await;
    let page = plain.call_with("GET", "/portal", None, &[]).await;
    assert_eq!(
        page.header("content-security-policy").as_deref(),
        Some("frame-ancestors 'self'"),
        "none by default"
    );
    std::fs::remove_dir_all(&dir).ok();
}
