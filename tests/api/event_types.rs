//! The event-type catalog: CRUD over HTTP, bad input, and the in-memory `Catalog` (payload
//! validation and known patterns) against the same database, as another node would see it.

use std::time::Duration;

use awc::http::StatusCode;
use courier_actors::catalog::{Catalog, CatalogConfig};
use serde_json::json;

use crate::support::{TestApp, eventually};

fn order_type() -> serde_json::Value {
    json!({
        "name": "order.created",
        "description": "An order was placed",
        "schema": {"type": "object", "required": ["order_id", "amount"],
                   "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}}},
        "example": {"order_id": "A-1", "amount": 12.5}
    })
}

#[actix_web::test]
async fn event_types_are_created_listed_read_and_patched() {
    let app = TestApp::spawn().await;
    let created = app.post("/event-types", &order_type()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["deprecated"], false);
    assert_eq!(created.body["example"]["order_id"], "A-1");
    app.post("/event-types", &json!({"name": "invoice.paid"}))
        .await;

    let list = app.get("/event-types").await;
    let names: Vec<&str> = list
        .body
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["invoice.paid", "order.created"]);
    let page = app.get("/event-types?limit=1").await;
    assert_eq!(page.body.as_array().map(Vec::len), Some(1));
    assert_eq!(
        page.header("x-next-cursor").as_deref(),
        Some("invoice.paid")
    );
    let next = app.get("/event-types?limit=1&cursor=invoice.paid").await;
    assert_eq!(next.body[0]["name"], "order.created");
    assert!(next.header("x-next-cursor").is_none());

    let patched = app
        .call(
            "PATCH",
            "/event-types/order.created",
            Some(br#"{"description": "Placed", "deprecated": true, "example": null}"#),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["version"], 2);
    assert_eq!(patched.body["deprecated"], true);
    assert_eq!(patched.body["example"], serde_json::Value::Null);
    assert!(patched.body["schema"].is_object(), "untouched fields stay");
    let got = app.get("/event-types/order.created").await;
    assert_eq!(got.body["description"], "Placed");
}

#[actix_web::test]
async fn bad_catalog_input_gets_a_4xx_naming_the_problem_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.post("/event-types", &order_type()).await;
    let cases = [
        (
            "POST",
            "/event-types",
            json!({"name": "order.*"}),
            400,
            "wildcard",
        ),
        ("POST", "/event-types", json!({"name": ""}), 400, "name"),
        ("POST", "/event-types", json!({"name": "a b"}), 400, "name"),
        (
            "POST",
            "/event-types",
            json!({"name": "a.b", "schema": {"type": "bogus"}}),
            400,
            "schema",
        ),
        (
            "POST",
            "/event-types",
            json!({"name": "a.b", "schema": [1]}),
            400,
            "schema",
        ),
        (
            "POST",
            "/event-types",
            json!({"name": "a.b", "schema": {"$ref": "http://127.0.0.1:1/s.json"}}),
            400,
            "schema",
        ),
        (
            "POST",
            "/event-types",
            json!({"name": "a.b", "schema": {"type": "object", "required": ["x"]}, "example": {}}),
            400,
            "example",
        ),
        (
            "POST",
            "/event-types",
            json!({"name": "a.b", "description": "nul\u{0}"}),
            400,
            "description",
        ),
        (
            "POST",
            "/event-types",
            json!({"name": "a.b", "description": "x".repeat(1001)}),
            400,
            "description",
        ),
        (
            "POST",
            "/event-types",
            json!({"name": "a.b", "deprecated": "yes"}),
            400,
            "invalid type",
        ),
        (
            "POST",
            "/event-types",
            json!({"name": "order.created"}),
            409,
            "already",
        ),
        (
            "PATCH",
            "/event-types/order.created",
            json!({"schema": {"minimum": "no"}}),
            400,
            "schema",
        ),
        (
            "PATCH",
            "/event-types/order.created",
            json!({"example": {"order_id": 5, "amount": 1}}),
            400,
            "/order_id",
        ),
        (
            "PATCH",
            "/event-types/no.such",
            json!({"description": "d"}),
            404,
            "event type",
        ),
        (
            "PATCH",
            "/event-types/nul%00",
            json!({"description": "d"}),
            404,
            "event type",
        ),
        (
            "POST",
            "/event-types",
            json!({"name": "a.b", "schema": {"const": "\u{0}"}}),
            400,
            "NUL",
        ),
        (
            "POST",
            "/event-types",
            json!({"name": "a.b", "example": {"k": "\u{0}"}}),
            400,
            "NUL",
        ),
    ];
    for (method, path, body, status, hint) in cases {
        let a = app
            .call(method, path, Some(body.to_string().as_bytes()))
            .await;
        assert_eq!(
            a.status.as_u16(),
            status,
            "{method} {path} {body}: {:?}",
            a.body
        );
        let message = a.body["message"].as_str().unwrap_or("");
        assert!(
            message.contains(hint),
            "{body}: {message:?} should mention {hint:?}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM event_types").await, 1);
    assert_eq!(
        app.get("/event-types/order.created").await.body["version"],
        1
    );
    assert_eq!(
        app.get("/event-types/no.such").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/event-types?limit=0").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/event-types?cursor=%00").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/event-types/nul%00").await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn the_catalog_checks_payloads_and_sees_changes_made_on_another_node() {
    let app = TestApp::spawn().await;
    app.post("/event-types", &order_type()).await;
    app.post("/event-types", &json!({"name": "note.added"}))
        .await;
    let catalog = Catalog::new(
        app.db.clone(),
        CatalogConfig {
            validate_payloads: true,
            enforce: true,
        },
    );

    assert_eq!(
        catalog
            .validate("order.created", r#"{"order_id": "A-1", "amount": 3}"#)
            .await,
        Ok(())
    );
    let wrong = catalog
        .validate("order.created", r#"{"order_id": "A-1", "amount": "3"}"#)
        .await
        .expect_err("amount is a string");
    assert_eq!(wrong.path, "/amount");
    let missing = catalog
        .validate("order.created", r#"{"order_id": "A-1"}"#)
        .await
        .expect_err("no amount");
    assert_eq!(missing.path, "");
    assert!(missing.message.contains("amount"), "{}", missing.message);
    let not_json = catalog
        .validate("order.created", "{nope")
        .await
        .expect_err("not JSON");
    assert!(not_json.message.contains("not JSON"));
    assert_eq!(
        catalog.validate("note.added", "[1, 2]").await,
        Ok(()),
        "no schema: anything goes"
    );
    assert_eq!(
        catalog.validate("unknown.type", "{}").await,
        Ok(()),
        "unknown type: nothing to check"
    );

    let off = Catalog::new(app.db.clone(), CatalogConfig::default());
    assert_eq!(
        off.validate("order.created", "{}").await,
        Ok(()),
        "validation off"
    );
    assert_eq!(
        off.check_patterns(&["nothing.*"]).await,
        Ok(()),
        "enforcement off"
    );

    assert!(
        catalog.knows("order.*").await
            && catalog.knows("order.created").await
            && catalog.knows("*").await
    );
    assert!(!catalog.knows("order.updated").await && !catalog.knows("shipment.*").await);
    let refused = catalog
        .check_patterns(&["order.*", "shipment.sent"])
        .await
        .expect_err("unknown");
    assert!(refused.contains("shipment.sent"), "{refused}");

    // A change made through the server reaches this catalog within about a second.
    app.call(
        "PATCH",
        "/event-types/order.created",
        Some(br#"{"schema": {"type": "object", "required": ["order_id"]}}"#),
    )
    .await;
    app.post("/event-types", &json!({"name": "shipment.sent"}))
        .await;
    eventually(
        "the catalog to pick up the change",
        Duration::from_millis(2500),
        || async {
            let relaxed = catalog
                .validate("order.created", r#"{"order_id": "A-1"}"#)
                .await
                .is_ok();
            let known = catalog.check_patterns(&["shipment.sent"]).await.is_ok();
            (relaxed && known).then_some(())
        },
    )
    .await;
}
