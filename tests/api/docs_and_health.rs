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
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            if let Some(id) = op["operationId"].as_str() {
                assert!(
                    ids.insert(id.to_owned()),
                    "operationId {id} ({method} {path}) is not unique"
                );
            }
        }
    }
    let sub = &doc.body["components"]["schemas"]["SubscriptionView"]["properties"];
    for field in ["filter", "retry_schedule", "current_concurrency"] {
        assert!(sub[field].is_object(), "SubscriptionView documents {field}");
    }
    assert!(
        doc.body["components"]["schemas"]["DeliveryView"]["properties"]["ordering_key"].is_object()
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

#[actix_web::test]
async fn metrics_are_scraped_in_prometheus_format_with_every_series() {
    let app = TestApp::spawn().await;
    let rx = crate::receiver::Receiver::start().await;
    let sub = app
        .create_subscription(json!({"target_url": rx.url("/hook")}))
        .await;
    let id = sub["id"].as_str().expect("id").to_owned();
    for i in 0..3 {
        let a = app
            .ingest(&id, "metrics.test", format!("{{\"n\": {i}}}").as_bytes())
            .await;
        assert_eq!(a.status, StatusCode::ACCEPTED);
    }
    rx.wait_for(3, std::time::Duration::from_secs(10)).await;
    app.engine().flush().await;
    let m = app.call_with("GET", "/metrics", None, &[]).await;
    assert_eq!(m.status, StatusCode::OK, "/metrics needs no key");
    assert!(
        m.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let text = String::from_utf8_lossy(&m.raw).into_owned();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert!(value("courier_ingest_messages_total") >= 3.0, "{text}");
    assert!(
        value("courier_attempts_total{outcome=\"success\"}") >= 3.0,
        "{text}"
    );
    assert!(
        value("courier_delivery_latency_seconds_count") >= 3.0,
        "{text}"
    );
    assert!(
        text.contains("courier_delivery_latency_seconds_bucket{le="),
        "latency is a histogram"
    );
    for gauge in [
        "courier_queue_depth",
        "courier_pending_retries",
        "courier_in_flight",
        "courier_actors_alive",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(gauge)),
            "{gauge} missing:\n{text}"
        );
    }
    assert_eq!(
        value("courier_subscriptions{status=\"active\"}"),
        1.0,
        "{text}"
    );
    assert!(value("courier_http_requests_total") >= 4.0, "{text}");
}
