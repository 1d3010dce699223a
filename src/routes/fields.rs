//! Field checks shared by the tenancy routes (applications, API keys, event types): each
//! failure is a `400` that names the field. Nothing here touches the database.

use std::time::Duration;

use courier_actors::units::parse_duration;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`) in PATCH bodies.
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A human-readable text field: at most `max` characters, no control characters, and not
/// blank when `required`.
pub fn text(field: &str, value: &str, max: usize, required: bool) -> ApiResult<String> {
    if required && value.trim().is_empty() {
        return Err(ApiError::Validation(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ApiError::Validation(format!(
            "{field} is longer than {max} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::Validation(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(value.to_owned())
}

/// An application's `uid`: `[A-Za-z0-9._-]{1,64}`.
pub fn uid(value: &str) -> ApiResult<String> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ApiError::Validation(
            "uid must be 1 to 64 characters of letters, digits, '.', '_' or '-'".into(),
        ))
    }
}

/// Whether `key` can name an application at all (an id or a uid); anything else is not
/// looked up, so no odd byte (a NUL, say) ever reaches Postgres.
pub fn could_name_application(key: &str) -> bool {
    uuid::Uuid::parse_str(key).is_ok() || uid(key).is_ok()
}

/// Refuses JSON holding a NUL character in any string or key: Postgres cannot store it in
/// `jsonb`, and it is never meaningful.
pub fn no_nul(field: &str, value: &Value) -> ApiResult<()> {
    let found = match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => return items.iter().try_for_each(|v| no_nul(field, v)),
        Value::Object(map) => {
            for (k, v) in map {
                if k.contains('\0') {
                    return Err(nul_error(field));
                }
                no_nul(field, v)?;
            }
            false
        }
        _ => false,
    };
    if found { Err(nul_error(field)) } else { Ok(()) }
}

fn nul_error(field: &str) -> ApiError {
    ApiError::Validation(format!(
        "{field} must not contain the NUL character (\\u0000)"
    ))
}

/// The most bytes an application's `metadata` may take as JSON.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// `metadata`: a JSON object of at most [`MAX_METADATA_BYTES`].
pub fn metadata(value: Value) -> ApiResult<serde_json::Map<String, Value>> {
    no_nul("metadata", &value)?;
    let Value::Object(map) = value else {
        return Err(ApiError::Validation(
            "metadata must be a JSON object".into(),
        ));
    };
    let size = serde_json::to_vec(&map)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(ApiError::Validation(format!(
            "metadata is larger than {MAX_METADATA_BYTES} bytes"
        )));
    }
    Ok(map)
}

const MIN_RETENTION: Duration = Duration::from_secs(60);
const MAX_RETENTION: Duration = Duration::from_secs(3650 * 86_400);

/// `retention`: a duration like `30d` or `12h`, or a whole number of seconds; 1m to 3650d.
pub fn retention(value: &Value) -> ApiResult<i64> {
    let bad = || {
        ApiError::Validation(
            "retention must be a duration like \"30d\" or \"12h\", or a number of seconds, \
             between 1m and 3650d"
                .into(),
        )
    };
    let duration = match value {
        Value::String(s) => parse_duration(s).map_err(|_| bad())?,
        Value::Number(n) => Duration::from_secs(n.as_u64().ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    if !(MIN_RETENTION..=MAX_RETENTION).contains(&duration) {
        return Err(bad());
    }
    i64::try_from(duration.as_secs()).map_err(|_| bad())
}

/// Seconds as the largest whole unit: `2592000` → `30d`, `5400` → `90m`.
pub fn format_secs(secs: i64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_fields_refuse_control_characters_blank_and_overlong_values() {
        assert!(text("name", "Acme Ltd", 10, true).is_ok());
        for (v, hint) in [
            ("", "empty"),
            ("   ", "empty"),
            ("a\u{0}b", "control"),
            ("line\nbreak", "control"),
            ("x".repeat(11).as_str(), "longer"),
        ] {
            let e = text("name", v, 10, true).expect_err(v).to_string();
            assert!(e.contains("name") && e.contains(hint), "{v:?}: {e}");
        }
        assert!(text("description", "", 10, false).is_ok());
    }

    #[test]
    fn uids_follow_the_spec_pattern() {
        for ok in ["acme", "A.b_c-1", &"x".repeat(64)] {
            assert!(uid(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "slash/no", "é", &"x".repeat(65)] {
            assert!(uid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn retention_takes_durations_or_seconds_within_bounds() {
        assert_eq!(retention(&json!("30d")).ok(), Some(2_592_000));
        assert_eq!(retention(&json!(3600)).ok(), Some(3600));
        for bad in [
            json!("30"),
            json!("10s"),
            json!(-5),
            json!(1.5),
            json!(true),
            json!("9999d"),
        ] {
            assert!(retention(&bad).is_err(), "{bad}");
        }
        assert_eq!(format_secs(2_592_000), "30d");
        assert_eq!(format_secs(5_400), "90m");
        assert_eq!(format_secs(61), "61s");
    }

    #[test]
    fn nul_characters_are_refused_anywhere_in_json() {
        assert!(no_nul("schema", &json!({"a": ["ok", {"b": 1}]})).is_ok());
        for bad in [
            json!("a\u{0}"),
            json!({"k\u{0}": 1}),
            json!([[{"x": "\u{0}"}]]),
        ] {
            let e = no_nul("schema", &bad).expect_err("has NUL").to_string();
            assert!(e.contains("schema"), "{e}");
        }
        assert!(could_name_application("acme") && !could_name_application("a\u{0}b"));
    }

    #[test]
    fn metadata_must_be_a_small_object() {
        assert!(metadata(json!({"plan": "pro"})).is_ok());
        assert!(metadata(json!([1])).is_err());
        assert!(metadata(json!({"big": "x".repeat(MAX_METADATA_BYTES)})).is_err());
    }
}
