//! Health, readiness, the OpenAPI document and both documentation UIs.

use awc::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[actix_web::test]
async fn health_and_ready_need_no_key_and_report_each_dependency() {
    let app = TestApp::spawn().await;
    let h = app.call_with("GET", "/health", None, &[]).await;
    assert_eq!(
        (h.status, h.body["status"].clone()),
        (StatusCode::OK, json!("healthy"))
    );
    let r = app.call_with("GET", "/ready", None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["postgres"]["status"], "ok");
    assert_eq!(r.body["redis"]["status"], "ok");
    assert!(
        h.header("x-request-id").is_some(),
        "every answer carries a request id"
    );
}

#[actix_web::test]
async fn openapi_documents_every_subscription_route_with_security() {
    let app = TestApp::spawn().await;
    let doc = app.call_with("GET", "/openapi.json", None, &[]).await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths = doc.body["paths"].as_object().expect("paths");
    for p in [
        "/subscriptions/",
        "/subscriptions/{id}",
        "/subscriptions/{id}/pause",
        "/subscriptions/{id}/resume",
        "/subscriptions/{id}/rotate-secret",
        "/health",
        "/ready",
    ] {
        assert!(paths.contains_key(p), "{p} is documented");
    }
    assert!(doc.body["components"]["securitySchemes"]["api_key"].is_object());
    assert!(
        doc.body["components"]["schemas"]["SubscriptionView"]["example"].is_object(),
        "schemas carry examples"
    );
}

#[actix_web::test]
async fn redoc_and_swagger_pages_are_served_with_their_own_scripts() {
    let app = TestApp::spawn().await;
    let redoc = app.call_with("GET", "/redoc", None, &[]).await;
    let page = String::from_utf8_lossy(&redoc.raw);
    assert!(page.contains("Redoc.init(") && page.contains("/redoc/redoc.standalone.js"));
    assert!(page.contains("\"openapi\""), "the spec is embedded");
    let js = app
        .call_with("GET", "/redoc/redoc.standalone.js", None, &[])
        .await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.raw.len() > 500_000);
    let docs = app.call_with("GET", "/docs", None, &[]).await;
    assert!(String::from_utf8_lossy(&docs.raw).contains("SwaggerUIBundle"));
    assert_eq!(
        app.call_with("GET", "/docs/swagger-ui.css", None, &[])
            .await
            .status,
        StatusCode::OK
    );
}
