use chrono::Utc;
use serde_json::json;
use sqlx::types::Json;

use super::*;

fn order_schema() -> Value {
    json!({
        "type": "object",
        "required": ["order_id", "amount"],
        "properties": {
            "order_id": {"type": "string"},
            "amount": {"type": "number", "minimum": 0},
            "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}}
        }
    })
}

fn row(name: &str, version: i32, schema: Option<Value>) -> EventTypeRow {
    EventTypeRow {
        name: name.into(),
        description: String::new(),
        schema: schema.map(Json),
        example: None,
        deprecated: false,
        version,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[test]
fn a_matching_payload_has_no_violation() {
    let v = compile(&order_schema()).expect("compiles");
    assert_eq!(
        first_violation(&v, &json!({"order_id": "1", "amount": 5})),
        None
    );
}

#[test]
fn a_violation_names_the_json_pointer_of_the_failing_value() {
    let v = compile(&order_schema()).expect("compiles");
    let bad_type = first_violation(&v, &json!({"order_id": "1", "amount": "five"})).expect("fails");
    assert_eq!(bad_type.path, "/amount");
    let nested = first_violation(
        &v,
        &json!({"order_id": "1", "amount": 1, "items": [{"sku": "a"}, {}]}),
    )
    .expect("fails");
    assert_eq!(nested.path, "/items/1");
    assert!(nested.message.contains("sku"), "{}", nested.message);
    let missing = first_violation(&v, &json!({"order_id": "1"})).expect("fails");
    assert_eq!(missing.path, "");
    assert!(missing.message.contains("amount"), "{}", missing.message);
    assert!(missing.to_string().contains("the payload's root"));
}

#[test]
fn a_bad_schema_does_not_compile_and_says_why() {
    for (schema, hint) in [
        (json!({"type": "no-such-type"}), "no-such-type"),
        (json!({"minimum": "zero"}), "zero"),
        (json!("a string"), "must be an object"),
        (
            json!({"$ref": "https://schemas.example.com/order.json"}),
            "example.com",
        ),
    ] {
        let e = compile(&schema).expect_err(&schema.to_string());
        assert!(e.contains(hint), "{schema}: {e}");
    }
    assert!(compile(&json!(true)).is_ok());
}

#[test]
fn the_draft_follows_the_schema_keyword() {
    // In draft 4 `exclusiveMinimum` is a boolean; in 2020-12 a number.
    let d4 = json!({"$schema": "http://json-schema.org/draft-04/schema#", "minimum": 0, "exclusiveMinimum": true});
    let v = compile(&d4).expect("draft 4 compiles");
    assert!(first_violation(&v, &json!(0)).is_some());
    assert!(compile(&json!({"exclusiveMinimum": true})).is_err());
}

#[test]
fn long_messages_are_cut() {
    let v = compile(&json!({"type": "integer"})).expect("compiles");
    let big = json!("x".repeat(5_000));
    let violation = first_violation(&v, &big).expect("fails");
    assert!(violation.message.len() <= MAX_MESSAGE + '…'.len_utf8());
}

#[test]
fn patterns_are_known_when_the_catalog_lists_a_matching_type() {
    let types = Types::build(
        vec![row("order.created", 1, None), row("invoice.paid", 1, None)],
        (2, 2),
        &Types::default(),
    );
    for p in ["*", "order.*", "order.created", "invoice.paid"] {
        assert!(types.knows(p), "{p}");
    }
    for p in ["order.updated", "shipment.*", "order"] {
        assert!(!types.knows(p), "{p}");
    }
}

#[test]
fn rebuilding_reuses_compiled_schemas_of_unchanged_versions_only() {
    let first = Types::build(
        vec![
            row("a.b", 1, Some(order_schema())),
            row("c.d", 1, Some(order_schema())),
        ],
        (2, 2),
        &Types::default(),
    );
    let second = Types::build(
        vec![
            row("a.b", 1, Some(order_schema())),
            row("c.d", 2, Some(json!({"type": "string"}))),
        ],
        (2, 3),
        &first,
    );
    let same = |t: &Types, n: &str| t.entries[n].validator.clone().expect("has schema");
    assert!(Arc::ptr_eq(&same(&first, "a.b"), &same(&second, "a.b")));
    assert!(!Arc::ptr_eq(&same(&first, "c.d"), &same(&second, "c.d")));
    assert!(first_violation(&same(&second, "c.d"), &json!("text")).is_none());
}

#[test]
fn a_stored_schema_that_no_longer_compiles_means_no_check() {
    let types = Types::build(
        vec![row("a.b", 1, Some(json!({"type": 5})))],
        (1, 1),
        &Types::default(),
    );
    assert!(types.entries["a.b"].validator.is_none());
}

#[test]
fn self_referencing_schemas_compile_or_fail_without_hanging() {
    for schema in [
        json!({"$ref": "#"}),
        json!({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}),
        json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}),
        json!({"type": "object", "properties": {"child": {"$ref": "#"}}}),
    ] {
        if let Ok(v) = compile(&schema) {
            let _ = first_violation(&v, &json!({"child": {"child": {"child": 1}}}));
        }
    }
}
