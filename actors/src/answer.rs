//! What a receiver answered, made safe to store and show. Every byte here is hostile: the
//! body may be any bytes (NUL, invalid UTF-8), headers any values, and error texts may quote
//! them. Postgres `text` cannot hold NUL and `json` must be valid, so:
//!
//! - the body's first bytes are kept exactly (base64) whenever they are not plain UTF-8
//!   text, beside a readable text in which invalid sequences become U+FFFD and NUL U+2400;
//! - headers are kept as a JSON object of at most [`MAX_HEADERS`] names and
//!   [`MAX_HEADER_BYTES`] bytes, values read as lossy text;
//! - any other text bound for Postgres goes through [`pg_text`].
//!
//! Must never: hand Postgres a string with a NUL, or lose the exact bytes of a body it keeps.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

/// The most headers of an answer that are kept.
pub const MAX_HEADERS: usize = 64;
/// The most bytes of an answer's headers (names and values) that are kept.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Text safe for a Postgres `text` column: NUL becomes U+2400 (␀).
pub fn pg_text(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{2400}")
    } else {
        s.to_owned()
    }
}

/// A body prefix as stored: readable text, and the exact bytes when the text is not them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBody {
    pub text: String,
    pub base64: Option<String>,
}

pub fn store_body(bytes: &[u8]) -> StoredBody {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => StoredBody {
            text: s.to_owned(),
            base64: None,
        },
        _ => StoredBody {
            text: pg_text(&String::from_utf8_lossy(bytes)),
            base64: Some(B64.encode(bytes)),
        },
    }
}

/// The answer's headers as a JSON object's text (repeated names joined with `, `).
pub fn store_headers<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut map = Map::new();
    let mut budget = MAX_HEADER_BYTES;
    for (name, value) in headers {
        let value = pg_text(&String::from_utf8_lossy(value));
        let cost = name.len() + value.len();
        if cost > budget || (map.len() >= MAX_HEADERS && !map.contains_key(name)) {
            map.insert("x-courier-truncated".into(), Value::String("true".into()));
            break;
        }
        budget -= cost;
        let name = pg_text(&name.to_ascii_lowercase());
        match map.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                map.insert(name, Value::String(value));
            }
        }
    }
    Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_utf8_is_kept_as_text_only() {
        let b = store_body("ok ✓".as_bytes());
        assert_eq!(b.text, "ok ✓");
        assert_eq!(b.base64, None);
    }

    #[test]
    fn nul_and_invalid_utf8_keep_their_exact_bytes() {
        let raw = b"ok\0\xff\xfe";
        let b = store_body(raw);
        assert!(!b.text.contains('\0'));
        assert!(b.text.starts_with("ok\u{2400}"));
        let back = B64.decode(b.base64.expect("kept")).expect("base64");
        assert_eq!(back, raw);
    }

    #[test]
    fn headers_are_bounded_and_nul_free() {
        let long = vec![b'a'; 5000];
        let many: Vec<(String, Vec<u8>)> = (0..100)
            .map(|i| (format!("x-h{i}"), long.clone()))
            .collect();
        let text = store_headers(many.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        assert!(text.len() < MAX_HEADER_BYTES + 200);
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["x-courier-truncated"], "true");
        let nul = store_headers([("x-a", &b"a\0b"[..])].into_iter());
        assert!(!nul.contains('\0'));
    }
}
