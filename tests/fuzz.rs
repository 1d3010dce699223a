//! Property tests (proptest, no nightly) of the pure functions hostile bytes reach first:
//! the JSON shape check against an independent depth oracle, GitHub signature verification
//! against every header a producer could send, and how a receiver's answer is kept. The
//! route-level checks built on them (`json_text`, `parse_envelope`, `compact_forms`,
//! `authorize`) are fuzzed beside their module, in `src/routes/ingest/fuzz_tests.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use courier_actors::answer::{MAX_HEADER_BYTES, MAX_HEADERS, store_body, store_headers};
use courier_actors::payload::{MAX_DEPTH, ShapeError, check_shape};
use courier_actors::signing::{github_signature, verify_github};
use proptest::prelude::*;
use serde_json::Value;

/// Nesting depth of a parsed value (arrays and objects), computed on the tree.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Any JSON value, up to `levels` deep, with strings full of escapes, brackets and NULs.
fn json_value(levels: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[\\PC\"\\\\\\[\\]{}\u{0}\u{1}\u{7f}\u{e9}\u{1F600}]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(levels, 256, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\\[\\]{}\"\u{0}]{0,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value wrapped in `0..100` levels of one-element arrays and objects: around the limit.
fn deep_value() -> impl Strategy<Value = Value> {
    (json_value(3), prop::collection::vec(any::<bool>(), 0..100)).prop_map(|(mut v, wraps)| {
        for as_array in wraps {
            v = if as_array {
                Value::Array(vec![v])
            } else {
                Value::Object([("k".to_owned(), v)].into_iter().collect())
            };
        }
        v
    })
}

/// `n` arrays around a value, `m` closing brackets: balanced or not.
fn brackets() -> impl Strategy<Value = Vec<u8>> {
    (0usize..200, 0usize..200, "[ \"x\\[\\]{}]{0,3}").prop_map(|(n, m, mid)| {
        let mut b = vec![b'['; n];
        b.extend_from_slice(mid.as_bytes());
        b.extend(std::iter::repeat_n(b']', m));
        b
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// For every document serde can write, the scanner's verdict is the tree's depth.
    #[test]
    fn the_shape_check_agrees_with_the_tree_depth(
        v in prop_oneof![json_value(8), deep_value()],
        pretty in any::<bool>(),
    ) {
        let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) };
        let text = text.expect("serialises");
        let d = depth(&v);
        let verdict = check_shape(text.as_bytes(), MAX_DEPTH);
        prop_assert_eq!(verdict.is_ok(), d <= MAX_DEPTH, "depth {}", d);
        for limit in [0, 1, d.saturating_sub(1), d, d + 1] {
            prop_assert_eq!(check_shape(text.as_bytes(), limit).is_ok(), d <= limit);
        }
    }

    /// Arbitrary bytes and bracket soups: never a panic, and a document serde accepts is
    /// refused exactly when it is deeper than the limit.
    #[test]
    fn any_bytes_are_judged_without_panicking(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        brackets(),
    ]) {
        let verdict = check_shape(&bytes, MAX_DEPTH);
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            prop_assert_eq!(verdict.is_ok(), depth(&v) <= MAX_DEPTH);
        }
        if let Err(e) = verdict {
            prop_assert_eq!(e, ShapeError::TooDeep { limit: MAX_DEPTH });
        }
    }

    /// Only the right signature verifies, in each documented form: with or without the
    /// `sha256=` prefix, hex in either case, surrounding whitespace ignored. A wrong key,
    /// another body, a changed digit, an upper-case prefix or any other header does not.
    #[test]
    fn only_the_right_signature_verifies(
        key in prop::collection::vec(any::<u8>(), 0..80),
        body in prop::collection::vec(any::<u8>(), 0..300),
        other in prop::collection::vec(any::<u8>(), 0..300),
        junk in "\\PC{0,80}",
        at in 0usize..64,
    ) {
        let sig = github_signature(&key, &body);
        let hex = sig.strip_prefix("sha256=").expect("prefix").to_owned();
        for ok in [sig.clone(), hex.clone(), format!("sha256={}", hex.to_uppercase()), format!("  {sig}\t")] {
            prop_assert!(verify_github(&key, &body, &ok), "{}", ok);
        }
        prop_assert_eq!(verify_github(&key, &other, &sig), other == body);
        let upper_prefix = format!("SHA256={hex}");
        prop_assert!(!verify_github(&key, &body, &upper_prefix));
        let mut digits: Vec<char> = hex.chars().collect();
        digits[at] = if digits[at] == '0' { '1' } else { '0' };
        let changed: String = digits.into_iter().collect();
        let (changed, cut) = (format!("sha256={changed}"), format!("sha256={}", &hex[..at]));
        prop_assert!(!verify_github(&key, &body, &changed));
        prop_assert!(!verify_github(&key, &body, &cut));
        prop_assert_eq!(verify_github(&key, &body, &junk), junk.trim() == sig || junk.trim() == hex);
        let mut other_key = key.clone();
        other_key.push(1);
        prop_assert!(!verify_github(&other_key, &body, &sig));
    }

    /// Any bytes a receiver answers become text without NUL, and the exact bytes come back
    /// from base64 whenever the text is not them.
    #[test]
    fn any_answer_body_is_kept_exactly(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096),
        "\\PC{0,64}".prop_map(String::into_bytes),
    ]) {
        let stored = store_body(&bytes);
        prop_assert!(!stored.text.contains('\0'));
        prop_assert_eq!(&stored.text, &String::from_utf8_lossy(&bytes).replace('\0', "\u{2400}"));
        match &stored.base64 {
            None => prop_assert_eq!(stored.text.as_bytes(), bytes.as_slice()),
            Some(b) => prop_assert_eq!(B64.decode(b).expect("base64"), bytes),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Any header names and values: a JSON object without NUL (not even escaped), within
    /// the bounds, keeping each value's readable text.
    #[test]
    fn any_answer_headers_are_kept_as_bounded_nul_free_json(headers in prop::collection::vec(
        ("[a-zA-Z0-9-]{1,20}", prop::collection::vec(any::<u8>(), 0..600)), 0..120)
    ) {
        let text = store_headers(headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        prop_assert!(!text.contains('\0') && !text.contains("\\u0000"));
        let map = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => m,
            other => return Err(TestCaseError::fail(format!("not an object: {other:?}"))),
        };
        prop_assert!(map.len() <= MAX_HEADERS + 1);
        let kept: usize = map.iter().map(|(k, v)| k.len() + v.as_str().map_or(0, str::len)).sum();
        prop_assert!(kept <= MAX_HEADER_BYTES + 64 * MAX_HEADERS + 32, "{} bytes", kept);
        if let Some((name, value)) = headers.first() {
            let first = String::from_utf8_lossy(value).replace('\0', "\u{2400}");
            if name.len() + first.len() <= MAX_HEADER_BYTES {
                let shown = map[&name.to_ascii_lowercase()].as_str().expect("a string").to_owned();
                prop_assert!(shown.starts_with(&first), "{:?} keeps {:?}", shown, first);
            }
        }
    }
}
