//! Domain types parsed at the edge: target URLs, event types and patterns, signing secrets
//! and the status vocabularies. Nothing below the HTTP routes handles a raw string it would
//! have to validate again: if one of these values exists, it is valid.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

/// Why a value from a request was refused. The message is shown to the client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}

/// Refuses control characters in a management string (`name` names the field). Tabs and
/// line breaks are allowed where `multiline` says so (descriptions).
pub fn check_text(name: &str, value: &str, multiline: bool) -> Result<(), Invalid> {
    let bad = value
        .chars()
        .find(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')));
    match bad {
        Some(c) => Err(invalid(format!(
            "{name} must not contain control characters (found U+{:04X})",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// An absolute `http`/`https` URL that a subscription delivers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TargetUrl(String);

impl TargetUrl {
    /// Longest URL accepted; longer ones are almost certainly mistakes or abuse.
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        check_text("target_url", raw, false)?;
        if raw.len() > Self::MAX_LEN {
            return Err(invalid(format!(
                "target_url is longer than {} characters",
                Self::MAX_LEN
            )));
        }
        let url = url::Url::parse(raw)
            .map_err(|e| invalid(format!("target_url is not an absolute URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("target_url must use http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("target_url must name a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "target_url must not carry credentials; use headers instead",
            ));
        }
        Ok(Self(url.to_string()))
    }

    /// A URL that was validated when it was stored.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A concrete event type such as `order.created`: dot-separated segments of letters, digits,
/// `_` and `-`. Wildcards are refused here: an event's own type is always concrete.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EventType(String);

const MAX_EVENT_TYPE_LEN: usize = 128;

fn valid_segment(seg: &str) -> bool {
    !seg.is_empty()
        && seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b':')
}

impl EventType {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() {
            return Err(invalid("event_type must not be empty"));
        }
        if raw.len() > MAX_EVENT_TYPE_LEN {
            return Err(invalid(format!(
                "event_type is longer than {MAX_EVENT_TYPE_LEN} characters"
            )));
        }
        if raw.contains('*') {
            return Err(invalid(format!(
                "event_type {raw:?} contains a wildcard; an event's type must be concrete"
            )));
        }
        if !raw.split('.').all(valid_segment) {
            return Err(invalid(format!(
                "event_type {raw:?} must be dot-separated segments of letters, digits, '_', '-' or ':'"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A subscription's filter entry: exact (`order.created`), prefix (`order.*`, matching every
/// type below `order.`, including future ones) or everything (`*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EventTypePattern(String);

impl EventTypePattern {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw == "*" {
            return Ok(Self(raw.to_owned()));
        }
        match raw.strip_suffix(".*") {
            Some(prefix) => {
                EventType::parse(prefix).map_err(|e| invalid(format!("pattern {raw:?}: {e}")))?;
            }
            None if raw.contains('*') => {
                return Err(invalid(format!(
                    "pattern {raw:?}: a wildcard may only stand alone (`*`) or as the last segment (`order.*`)"
                )));
            }
            None => {
                EventType::parse(raw)?;
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn matches(&self, event: &EventType) -> bool {
        let pattern = self.0.as_str();
        if pattern == "*" {
            return true;
        }
        match pattern.strip_suffix('*') {
            Some(prefix_with_dot) => event.as_str().starts_with(prefix_with_dot),
            None => pattern == event.as_str(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The list of patterns a subscription wants. Empty means every event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EventFilter(Vec<EventTypePattern>);

impl EventFilter {
    pub const MAX_PATTERNS: usize = 100;

    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, Invalid> {
        if raw.len() > Self::MAX_PATTERNS {
            return Err(invalid(format!(
                "at most {} event_types are allowed",
                Self::MAX_PATTERNS
            )));
        }
        let mut patterns: Vec<EventTypePattern> = Vec::with_capacity(raw.len());
        for r in raw {
            let p = EventTypePattern::parse(r.as_ref())?;
            if !patterns.contains(&p) {
                patterns.push(p);
            }
        }
        Ok(Self(patterns))
    }

    /// Builds a filter from values already validated when they were stored.
    pub fn from_stored(raw: Vec<String>) -> Self {
        Self(raw.into_iter().map(EventTypePattern).collect())
    }

    pub fn wants(&self, event: &EventType) -> bool {
        self.0.is_empty() || self.0.iter().any(|p| p.matches(event))
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|p| p.0.clone()).collect()
    }
}

/// A subscription's signing secret. Either the client's own string, or one Courier generates
/// in the Standard Webhooks form `whsec_<base64>`. The HMAC key is the secret's bytes, except
/// for a `whsec_` secret whose rest is valid base64: then it is the decoded bytes, as the
/// Standard Webhooks libraries expect. `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

impl SigningSecret {
    pub const MIN_LEN: usize = 6;
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let len = raw.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(invalid(format!(
                "secret must be between {} and {} characters",
                Self::MIN_LEN,
                Self::MAX_LEN
            )));
        }
        if raw.chars().any(char::is_control) {
            return Err(invalid("secret must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A new random secret: `whsec_` + base64 of 32 random bytes.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("whsec_{}", B64.encode(bytes)))
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The bytes both signature schemes use as the HMAC key.
    pub fn key_bytes(&self) -> Vec<u8> {
        if let Some(rest) = self.0.strip_prefix("whsec_")
            && let Ok(decoded) = B64.decode(rest)
            && !decoded.is_empty()
        {
            return decoded;
        }
        self.0.as_bytes().to_vec()
    }

    /// The secret as the client should configure it in a Standard Webhooks verifier.
    pub fn standard_webhooks_form(&self) -> String {
        if self.0.starts_with("whsec_") && self.key_bytes() != self.0.as_bytes() {
            self.0.clone()
        } else {
            format!("whsec_{}", B64.encode(self.0.as_bytes()))
        }
    }

    /// The stored and once-shown form. Only create and rotate-secret may expose it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    other => Err(Invalid(format!(
                        "{other:?} is not one of: {}",
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Whether a subscription receives deliveries.
    SubscriptionStatus {
        Active => "active",
        Paused => "paused",
        Disabled => "disabled",
    }
);

string_enum!(
    /// Where a delivery (one message to one subscription) stands.
    DeliveryStatus {
        Pending => "pending",
        Delivering => "delivering",
        Retrying => "retrying",
        Succeeded => "succeeded",
        Failed => "failed",
        Filtered => "filtered",
        Paused => "paused",
    }
);

impl DeliveryStatus {
    /// Statuses from which nothing more happens unless an operator asks.
    pub const FINAL: &'static [Self] = &[Self::Succeeded, Self::Failed, Self::Filtered];
    /// Statuses a subscription actor may send.
    pub const DUE: &'static [Self] = &[Self::Pending, Self::Retrying];
    /// Statuses of deliveries that are not finished (sent, to be sent, or held).
    pub const UNFINISHED: &'static [Self] = &[
        Self::Pending,
        Self::Delivering,
        Self::Retrying,
        Self::Paused,
    ];

    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }
}

/// How many shards subscriptions are spread over (fixed: the migration computes the same).
pub const SHARDS: u16 = 64;

/// The shard a subscription belongs to: the last two (random) bytes of its UUIDv7.
pub fn shard_of(id: uuid::Uuid) -> u16 {
    let b = id.as_bytes();
    u16::from_be_bytes([b[14], b[15]]) % SHARDS
}

string_enum!(
    /// Why an attempt failed, when it did.
    ErrorClass {
        Timeout => "timeout",
        Connect => "connect",
        Dns => "dns",
        Tls => "tls",
        HttpStatus => "http_status",
        BlockedTarget => "blocked_target",
        InvalidResponse => "invalid_response",
        SecretUnavailable => "secret_unavailable",
    }
);

/// The smallest UUIDv7 of the millisecond `t`: every id made at or after `t` is at least
/// this, so time bounds become primary-key bounds.
pub fn uuid_floor(t: chrono::DateTime<chrono::Utc>) -> uuid::Uuid {
    let ms = u64::try_from(t.timestamp_millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    uuid::Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn et(s: &str) -> EventType {
        EventType::parse(s).expect("valid event type")
    }

    #[test]
    fn prefix_pattern_matches_types_below_the_prefix_only() {
        let p = EventTypePattern::parse("order.*").expect("valid");
        assert!(p.matches(&et("order.created")));
        assert!(p.matches(&et("order.item.added")));
        assert!(!p.matches(&et("order")));
        assert!(!p.matches(&et("orders.created")));
    }

    #[test]
    fn star_and_empty_filter_match_everything() {
        assert!(EventFilter::parse(&["*"]).expect("valid").wants(&et("a.b")));
        assert!(EventFilter::default().wants(&et("x")));
    }

    #[test]
    fn exact_pattern_matches_only_itself() {
        let f = EventFilter::parse(&["order.created"]).expect("valid");
        assert!(f.wants(&et("order.created")));
        assert!(!f.wants(&et("order.updated")));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "",
            "order.",
            ".order",
            "or*der",
            "order.*.x",
            "**",
            "a b",
            "order..x",
        ] {
            assert!(
                EventTypePattern::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn event_types_with_wildcards_are_refused() {
        assert!(EventType::parse("order.*").is_err());
        assert!(EventType::parse("*").is_err());
    }

    #[test]
    fn target_url_must_be_absolute_http() {
        assert!(TargetUrl::parse("https://example.com/hook").is_ok());
        for bad in [
            "example.com",
            "ftp://x.y/",
            "http://",
            "/relative",
            "http://u:p@x.y/",
        ] {
            assert!(TargetUrl::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn uuid_floor_orders_with_v7_ids() {
        let before = chrono::Utc::now();
        let id = uuid::Uuid::now_v7();
        let after = before + chrono::Duration::milliseconds(2);
        assert!(uuid_floor(before) <= id);
        assert!(uuid_floor(after) > id);
        assert_eq!(uuid_floor(before).get_version_num(), 7);
    }

    #[test]
    fn shards_spread_ids_evenly_and_stay_in_range() {
        let mut counts = vec![0u32; usize::from(SHARDS)];
        for _ in 0..64_000 {
            let s = shard_of(uuid::Uuid::now_v7());
            counts[usize::from(s)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (700..1300).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn generated_secret_key_is_the_decoded_bytes() {
        let s = SigningSecret::generate();
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(s.key_bytes().len(), 32);
        assert_eq!(s.standard_webhooks_form(), s.expose());
    }

    #[test]
    fn plain_secret_key_is_its_bytes_and_its_standard_form_is_base64() {
        let s = SigningSecret::parse("Pass123").expect("valid");
        assert_eq!(s.key_bytes(), b"Pass123");
        assert_eq!(s.standard_webhooks_form(), "whsec_UGFzczEyMw==");
        assert_eq!(format!("{s:?}"), "SigningSecret(***)");
    }
}
