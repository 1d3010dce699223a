//! Content filters: known answers, errors that name their path, and properties of the matcher.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn doc(payload: Value) -> Value {
    let mut h = Map::new();
    h.insert("x-tenant".into(), json!("acme"));
    document("order.created", payload, h)
}

fn f(raw: Value) -> Filter {
    Filter::parse(&raw).expect("valid filter")
}

#[test]
fn plain_values_nested_paths_and_operators_match_as_documented() {
    let d = doc(json!({"amount": 120, "currency": "EUR", "items": [{"sku": "a-1"}], "note": null}));
    assert!(f(json!({"event_type": "order.created"})).matches(&d));
    assert!(f(json!({"payload": {"currency": "EUR"}})).matches(&d));
    assert!(f(json!({"payload": {"amount": {"$gt": 100, "$lte": 120}}})).matches(&d));
    assert!(!f(json!({"payload": {"amount": {"$gt": 120}}})).matches(&d));
    assert!(
        f(json!({"payload": {"amount": 120.0}})).matches(&d),
        "1 and 1.0 are the same number"
    );
    assert!(f(json!({"payload": {"currency": {"$in": ["USD", "EUR"]}}})).matches(&d));
    assert!(f(json!({"payload": {"currency": {"$nin": ["USD"]}}})).matches(&d));
    assert!(f(json!({"payload": {"items": {"0": {"sku": {"$startsWith": "a-"}}}}})).matches(&d));
    assert!(f(json!({"payload": {"missing": {"$exists": false}}})).matches(&d));
    assert!(
        f(json!({"payload": {"note": {"$exists": true}}})).matches(&d),
        "null is a value"
    );
    assert!(f(json!({"headers": {"x-tenant": "acme"}})).matches(&d));
    assert!(f(json!({"$or": [{"payload": {"currency": "USD"}}, {"payload": {"amount": {"$gte": 100}}}]})).matches(&d));
    assert!(!f(json!({"$not": {"payload": {"currency": "EUR"}}})).matches(&d));
    assert!(
        f(json!({"payload": {"currency": {"$neq": "USD"}, "amount": {"$lt": 200}}})).matches(&d)
    );
    assert!(
        !f(json!({"payload": {"currency": {"$gt": 5}}})).matches(&d),
        "a string is not compared with a number"
    );
    assert!(
        f(json!({})).matches(&d),
        "the empty filter takes everything"
    );
}

#[test]
fn bad_filters_are_refused_naming_the_path() {
    for (raw, at) in [
        (
            json!({"payload": {"amount": {"$gt": [1]}}}),
            "filter.payload.amount.$gt",
        ),
        (
            json!({"payload": {"amount": {"$between": 1}}}),
            "filter.payload.amount.$between",
        ),
        (json!({"$or": {"a": 1}}), "filter.$or"),
        (json!({"$or": [{"a": 1}, 5]}), "filter.$or.1"),
        (
            json!({"payload": {"x": {"$exists": "yes"}}}),
            "filter.payload.x.$exists",
        ),
        (
            json!({"payload": {"x": {"$gt": 1, "y": 2}}}),
            "filter.payload.x",
        ),
        (json!({"$where": "1"}), "filter.$where"),
        (json!([1]), "filter"),
        (json!({"payload": {"": 1}}), "filter.payload."),
    ] {
        let e = Filter::parse(&raw).expect_err(&raw.to_string());
        assert!(e.0.starts_with(at), "{raw}: {} should start with {at}", e.0);
    }
}

#[test]
fn oversized_filters_are_refused() {
    let many: Map<String, Value> = (0..MAX_NODES + 1)
        .map(|i| (format!("k{i}"), json!(1)))
        .collect();
    assert!(Filter::parse(&json!({"payload": many})).is_err());
    let mut deep = json!(1);
    for _ in 0..MAX_DEPTH + 2 {
        deep = json!({"a": deep});
    }
    assert!(Filter::parse(&deep).is_err());
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(|n| json!(n)),
        "[a-c]{0,3}".prop_map(|s| json!(s)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
    ]
}

proptest! {
    /// `$not` negates, `$in` is the `$or` of `$eq`s, `$nin` is `$not` of `$in`, and `$neq`
    /// is `$not` of `$eq` — for any field value, present or missing.
    #[test]
    fn the_operators_agree_with_their_definitions(field in proptest::option::of(scalar()),
            vals in proptest::collection::vec(scalar(), 0..5)) {
        let payload = match &field { Some(v) => json!({"x": v}), None => json!({}) };
        let d = doc(payload);
        let eqs: Vec<Value> = vals.iter().map(|v| json!({"payload": {"x": {"$eq": v}}})).collect();
        let in_ = f(json!({"payload": {"x": {"$in": vals}}}));
        prop_assert_eq!(in_.matches(&d), f(json!({"$or": eqs})).matches(&d));
        let nin = f(json!({"payload": {"x": {"$nin": vals}}}));
        prop_assert_eq!(nin.matches(&d), !in_.matches(&d));
        for v in &vals {
            let eq = f(json!({"payload": {"x": {"$eq": v}}}));
            let neq = f(json!({"payload": {"x": {"$neq": v}}}));
            let not = f(json!({"$not": {"payload": {"x": {"$eq": v}}}}));
            prop_assert_eq!(neq.matches(&d), !eq.matches(&d));
            prop_assert_eq!(not.matches(&d), !eq.matches(&d));
        }
    }

    /// Comparisons of numbers are a total order: exactly one of `<`, `=`, `>` holds, and
    /// `$gte` is `$gt` or `$eq`.
    #[test]
    fn number_comparisons_are_consistent(a in -1000i64..1000, b in -1000i64..1000) {
        let d = doc(json!({"n": a}));
        let lt = f(json!({"payload": {"n": {"$lt": b}}})).matches(&d);
        let gt = f(json!({"payload": {"n": {"$gt": b}}})).matches(&d);
        let eq = f(json!({"payload": {"n": b}})).matches(&d);
        prop_assert_eq!(u8::from(lt) + u8::from(gt) + u8::from(eq), 1);
        prop_assert_eq!(f(json!({"payload": {"n": {"$gte": b}}})).matches(&d), gt || eq);
        prop_assert_eq!(lt, a < b);
    }

    /// Any JSON the parser accepts is matched against any document without panicking.
    #[test]
    fn any_accepted_filter_matches_any_document_without_panicking(
            key in "[a-z$]{1,6}", v in scalar(), payload in scalar()) {
        if let Ok(filter) = Filter::parse(&json!({"payload": {key: v}})) {
            let _ = filter.matches(&doc(json!({"k": payload})));
        }
    }
}
