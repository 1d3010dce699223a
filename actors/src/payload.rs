//! The shape limits every JSON body must meet before anything parses it: one function,
//! [`check_shape`], used by the three ingest forms and by every route that takes JSON.
//!
//! It scans the bytes once without recursion, so however deep the input it costs O(n) and
//! no stack; Postgres' `json` parser (and serde's) never see a document nested deeper than
//! the limit. Strings are skipped with their escapes, so brackets inside them do not count,
//! and `\u0000` inside a string stays valid (it is kept and delivered byte for byte).

/// How deep a payload may nest (objects and arrays). Generous for real events (48-deep
/// documents are fine), far below what overflows a parser.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("the JSON nests deeper than {limit} levels")]
    TooDeep { limit: usize },
}

/// Checks that `bytes` nests at most `max_depth` levels. (Validity is serde's job, after.)
pub fn check_shape(bytes: &[u8], max_depth: usize) -> Result<(), ShapeError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(ShapeError::TooDeep { limit: max_depth });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn moderate_nesting_passes_and_deep_nesting_is_refused() {
        assert_eq!(check_shape(nested(48).as_bytes(), MAX_DEPTH), Ok(()));
        assert_eq!(check_shape(nested(64).as_bytes(), MAX_DEPTH), Ok(()));
        assert_eq!(
            check_shape(nested(5_000).as_bytes(), MAX_DEPTH),
            Err(ShapeError::TooDeep { limit: MAX_DEPTH })
        );
    }

    #[test]
    fn brackets_and_escapes_inside_strings_do_not_count() {
        let s = format!(
            "{{\"a\": \"{}\\\"{}\", \"nul\": \"\\u0000\"}}",
            "[".repeat(500),
            "{".repeat(500)
        );
        assert_eq!(check_shape(s.as_bytes(), 2), Ok(()));
    }

    proptest! {
        /// The scanner agrees with a real parser on nesting depth for any value serde can
        /// produce: every document serde_json accepts within the limit passes.
        #[test]
        fn documents_within_the_limit_always_pass(depth in 0usize..60, key in "[a-z\\[\\]{}\"\\\\]{0,8}") {
            let mut v = serde_json::json!(key);
            for i in 0..depth {
                v = if i % 2 == 0 { serde_json::json!([v]) } else { serde_json::json!({ key.clone(): v }) };
            }
            let text = v.to_string();
            prop_assert_eq!(check_shape(text.as_bytes(), MAX_DEPTH), Ok(()));
            prop_assert!(check_shape(text.as_bytes(), depth.saturating_sub(1)).is_err() || depth == 0);
        }

        /// Arbitrary bytes never panic it.
        #[test]
        fn any_bytes_are_scanned_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = check_shape(&bytes, MAX_DEPTH);
        }
    }
}
