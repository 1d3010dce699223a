//! A subscription's secrets at rest: its signing secrets (current and rotated-out) and its
//! extra request headers are stored sealed with the key ring ([`crate::crypto`]), each bound
//! to the subscription's id, so a sealed value copied onto another row does not open. The
//! rows in Postgres, in the Redis cache and in every node's directory hold only the sealed
//! form; plaintext exists in memory while an attempt is signed or a request verified, and in
//! the one answer (create, rotate) that shows a new secret.
//!
//! Must never: store or cache a secret or a header value in clear.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::crypto::{KeyRing, OpenError};
use crate::domain::SigningSecret;
use crate::headers::ExtraHeaders;

fn secret_context(id: Uuid) -> Vec<u8> {
    format!("subscription:{id}:signing-secret").into_bytes()
}

fn headers_context(id: Uuid) -> Vec<u8> {
    format!("subscription:{id}:headers").into_bytes()
}

/// The sealed form of a signing secret (current or previous: the same context, so rotation
/// can move the current one into the previous column as it is).
pub fn seal_secret(ring: &KeyRing, id: Uuid, secret: &SigningSecret) -> String {
    ring.seal_in(&secret_context(id), secret.expose())
}

pub fn open_secret(ring: &KeyRing, id: Uuid, stored: &str) -> Result<SigningSecret, OpenError> {
    ring.open_in(&secret_context(id), stored)
        .map(SigningSecret::from_stored)
}

/// The sealed form of the extra headers (a JSON object).
pub fn seal_headers(ring: &KeyRing, id: Uuid, headers: &ExtraHeaders) -> String {
    let json = serde_json::to_string(headers.as_map()).unwrap_or_else(|_| "{}".to_owned());
    ring.seal_in(&headers_context(id), &json)
}

/// The extra headers: the sealed column when set, else what an older version left in clear.
pub fn open_headers(
    ring: &KeyRing,
    id: Uuid,
    sealed: Option<&str>,
    legacy: &BTreeMap<String, String>,
) -> Result<ExtraHeaders, OpenError> {
    let Some(sealed) = sealed else {
        return Ok(ExtraHeaders::from_stored(legacy.clone()));
    };
    let json = ring.open_in(&headers_context(id), sealed)?;
    let map: BTreeMap<String, String> =
        serde_json::from_str(&json).map_err(|_| OpenError::Malformed)?;
    Ok(ExtraHeaders::from_stored(map))
}

/// The value resealed with the ring's first key, when it needs it (a legacy plaintext, or
/// sealed with an older key).
pub fn reseal_secret(ring: &KeyRing, id: Uuid, stored: &str) -> Result<Option<String>, OpenError> {
    if stored.is_empty() {
        return Ok(None);
    }
    ring.reseal_in(&secret_context(id), stored)
}

pub fn reseal_headers(ring: &KeyRing, id: Uuid, sealed: &str) -> Result<Option<String>, OpenError> {
    ring.reseal_in(&headers_context(id), sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(&[crate::crypto::generate_key()]).expect("ring")
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_own_subscription() {
        let r = ring();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let secret = SigningSecret::parse("Pass1234").expect("valid");
        let sealed = seal_secret(&r, a, &secret);
        assert!(!sealed.contains("Pass1234"));
        assert_eq!(open_secret(&r, a, &sealed).expect("opens"), secret);
        assert!(
            open_secret(&r, b, &sealed).is_err(),
            "moved to another row it does not open"
        );
    }

    #[test]
    fn headers_round_trip_sealed_and_legacy_ones_are_read_as_they_are() {
        let r = ring();
        let id = Uuid::now_v7();
        let mut m = BTreeMap::new();
        m.insert("authorization".to_owned(), "Bearer abcdef123456".to_owned());
        let h = ExtraHeaders::from_stored(m.clone());
        let sealed = seal_headers(&r, id, &h);
        assert!(!sealed.contains("abcdef"));
        assert_eq!(
            open_headers(&r, id, Some(&sealed), &BTreeMap::new()).expect("opens"),
            h
        );
        assert_eq!(open_headers(&r, id, None, &m).expect("legacy"), h);
    }
}
