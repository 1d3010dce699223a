//! Extra request headers a subscription adds to its deliveries, validated at the edge: names
//! are HTTP tokens and may not override the headers Courier itself sets; values are visible
//! ASCII.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::Invalid;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExtraHeaders(BTreeMap<String, String>);

/// Headers Courier sets on every delivery, or that the HTTP layer owns.
const RESERVED: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-hub-signature-256",
];

impl ExtraHeaders {
    pub const MAX_COUNT: usize = 32;
    pub const MAX_VALUE_LEN: usize = 1024;

    pub fn parse(raw: BTreeMap<String, String>) -> Result<Self, Invalid> {
        if raw.len() > Self::MAX_COUNT {
            return Err(Invalid(format!(
                "at most {} headers are allowed",
                Self::MAX_COUNT
            )));
        }
        let mut out = BTreeMap::new();
        for (name, value) in raw {
            let lower = name.to_ascii_lowercase();
            check_name(&name, &lower)?;
            check_value(&name, &value)?;
            out.insert(lower, value);
        }
        Ok(Self(out))
    }

    pub fn from_stored(raw: BTreeMap<String, String>) -> Self {
        Self(raw)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

fn check_name(name: &str, lower: &str) -> Result<(), Invalid> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > 128 || !name.bytes().all(token) {
        return Err(Invalid(format!(
            "header name {name:?} is not a valid HTTP header name"
        )));
    }
    if RESERVED.contains(&lower) || lower.starts_with("x-courier-") {
        return Err(Invalid(format!(
            "header {name:?} is set by Courier and cannot be overridden"
        )));
    }
    Ok(())
}

fn check_value(name: &str, value: &str) -> Result<(), Invalid> {
    if value.len() > ExtraHeaders::MAX_VALUE_LEN {
        return Err(Invalid(format!(
            "header {name:?} is longer than {} characters",
            ExtraHeaders::MAX_VALUE_LEN
        )));
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(Invalid(format!("header {name:?} must be visible ASCII")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_are_lowercased_and_kept() {
        let h = ExtraHeaders::parse(map(&[("X-Team", "payments")])).expect("valid");
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![("x-team", "payments")]);
    }

    #[test]
    fn reserved_and_malformed_headers_are_refused() {
        for (k, v) in [
            ("Content-Type", "x"),
            ("webhook-signature", "x"),
            ("X-Courier-Attempt", "1"),
            ("bad name", "x"),
            ("", "x"),
            ("x-ok", "line\nbreak"),
            ("x-ok", "é"),
        ] {
            assert!(
                ExtraHeaders::parse(map(&[(k, v)])).is_err(),
                "{k:?}: {v:?} should be refused"
            );
        }
    }
}
