//! Extra request headers a subscription adds to its deliveries, validated at the edge: names
//! are HTTP tokens and may not override the headers Courier itself sets; values are visible
//! ASCII.
//!
//! Also which header names carry credentials ([`CredentialHeaders`]) and how their values are
//! shown after creation ([`mask`]): in subscription views, stored attempt request headers and
//! the live stream. A masked value never shows more than 3 characters of the original.

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

/// Names that always carry credentials (compared lowercased).
const CREDENTIAL_NAMES: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "apikey",
    "x-apikey",
    "token",
    "secret",
    "password",
];

/// Name endings that carry credentials: `X-Auth-Token`, `X-Client-Key`, `X_App_Secret`…
const CREDENTIAL_SUFFIXES: &[&str] = &[
    "-token",
    "_token",
    "-key",
    "_key",
    "-secret",
    "_secret",
    "-password",
    "_password",
];

/// Whether a header name looks like a credential by the built-in rules.
pub fn is_credential(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    CREDENTIAL_NAMES.contains(&lower.as_str())
        || CREDENTIAL_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Shows a credential without revealing it: the first 3 characters and `…***` for values of
/// 12 characters or more, only `***` for shorter ones (where 3 characters would be a real
/// part of the secret).
pub fn mask(value: &str) -> String {
    const HINT: usize = 3;
    const HINT_FROM: usize = 12;
    if value.chars().count() < HINT_FROM {
        return "***".to_owned();
    }
    let hint: String = value.chars().take(HINT).collect();
    format!("{hint}…***")
}

/// The credential rules in force: the built-in ones plus `COURIER_CREDENTIAL_HEADERS`
/// (comma-separated names; a `*` at the start of one matches any beginning, as in `*-auth`,
/// and at its end any ending, as in `vendor-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialHeaders {
    extra: Vec<String>,
}

impl CredentialHeaders {
    /// Parses the setting's value; an entry that is not a header name (after removing one
    /// leading or trailing `*`) is refused.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'+-.^_`|~".contains(&b);
        let mut extra = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bare = entry.strip_prefix('*').or_else(|| entry.strip_suffix('*'));
            let name = bare.unwrap_or(entry);
            if name.is_empty() || name.len() > 128 || !name.bytes().all(token) {
                return Err(Invalid(format!(
                    "{entry:?} is not a header name (a `*` may stand only at its start or end)"
                )));
            }
            extra.push(entry.to_ascii_lowercase());
        }
        Ok(Self { extra })
    }

    /// Whether `name` carries a credential (built-in rules or the configured ones).
    pub fn is_credential(&self, name: &str) -> bool {
        if is_credential(name) {
            return true;
        }
        let lower = name.trim().to_ascii_lowercase();
        self.extra.iter().any(|pattern| {
            if let Some(suffix) = pattern.strip_prefix('*') {
                lower.ends_with(suffix)
            } else if let Some(prefix) = pattern.strip_suffix('*') {
                lower.starts_with(prefix)
            } else {
                *pattern == lower
            }
        })
    }

    /// `headers` with every credential value masked.
    pub fn mask_map(&self, headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        headers
            .iter()
            .map(|(k, v)| {
                let shown = if self.is_credential(k) {
                    mask(v)
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect()
    }

    /// A JSON object of headers (as stored with attempts) with credential values masked;
    /// anything that is not an object of strings is returned unchanged.
    pub fn mask_json(&self, headers: &serde_json::Value) -> serde_json::Value {
        let Some(map) = headers.as_object() else {
            return headers.clone();
        };
        let masked = map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) if self.is_credential(k) => (k.clone(), serde_json::Value::from(mask(s))),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        serde_json::Value::Object(masked)
    }
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

    #[test]
    fn credential_names_are_recognised_whatever_their_case() {
        for name in [
            "Authorization",
            "PROXY-AUTHORIZATION",
            "Cookie",
            "X-Api-Key",
            "x-auth-token",
            "X-Client-Secret",
            "x_app_key",
            "Api-Key",
            "X-Db-Password",
        ] {
            assert!(is_credential(name), "{name} should be a credential");
        }
        for name in [
            "X-Team",
            "Content-Language",
            "monkey",
            "X-Request-Id",
            "webhook-id",
        ] {
            assert!(!is_credential(name), "{name} is not a credential");
        }
    }

    #[test]
    fn configured_names_and_wildcards_add_to_the_built_in_rules() {
        let rules = CredentialHeaders::parse("X-Signature-Seed, *-auth, vendor-*").expect("valid");
        for name in [
            "x-signature-seed",
            "X-Partner-Auth",
            "Vendor-Thing",
            "Authorization",
        ] {
            assert!(rules.is_credential(name), "{name}");
        }
        assert!(!rules.is_credential("x-team"));
        for bad in ["bad name", "*", "a*b", "x-*-y"] {
            assert!(CredentialHeaders::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            CredentialHeaders::parse(" , ").expect("empty"),
            CredentialHeaders::default()
        );
    }

    #[test]
    fn a_masked_value_shows_at_most_three_characters_of_the_original() {
        assert_eq!(mask("Bearer sk_live_0123456789"), "Bea…***");
        assert_eq!(mask("short-secret"), "sho…***");
        assert_eq!(mask("eleven-char"), "***");
        assert_eq!(mask(""), "***");
        assert_eq!(mask("ééééééééééééé"), "ééé…***");
        let original = "a-fairly-long-credential-value";
        let shown = mask(original);
        let revealed = shown
            .chars()
            .zip(original.chars())
            .take_while(|(a, b)| a == b)
            .count();
        assert!(revealed <= 4);
        assert!(!shown.contains("credential"));
    }

    #[test]
    fn maps_and_stored_json_are_masked_only_where_the_name_is_a_credential() {
        let rules = CredentialHeaders::default();
        let masked = rules.mask_map(&map(&[
            ("authorization", "Bearer 0123456789abcdef"),
            ("x-team", "payments"),
        ]));
        assert_eq!(masked["authorization"], "Bea…***");
        assert_eq!(masked["x-team"], "payments");
        let json =
            serde_json::json!({"X-Api-Key": "k-0123456789abc", "webhook-id": "msg_1", "n": 1});
        let shown = rules.mask_json(&json);
        assert_eq!(shown["X-Api-Key"], "k-0…***");
        assert_eq!(shown["webhook-id"], "msg_1");
        assert_eq!(shown["n"], 1);
        assert_eq!(
            rules.mask_json(&serde_json::json!([1])),
            serde_json::json!([1])
        );
    }
}
