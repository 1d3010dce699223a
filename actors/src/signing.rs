//! Signature computation and verification: one pure function per scheme.
//!
//! - Standard Webhooks (outgoing): `webhook-signature: v1,<base64 HMAC-SHA256(key,
//!   "{msg_id}.{timestamp}.{body}")>`, space-separated when two secrets overlap.
//! - GitHub style (incoming and outgoing): `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(key,
//!   body)>`.
//!
//! Verification compares in constant time (`Mac::verify_slice`). Never compare signatures
//! with `==`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    }
}

/// `v1,<base64>` for one key, over `"{msg_id}.{timestamp}.{body}"`.
pub fn standard_signature(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = mac(key);
    m.update(msg_id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    format!("v1,{}", B64.encode(m.finalize().into_bytes()))
}

/// The `webhook-signature` header value for every key that currently signs.
pub fn standard_signature_header(
    keys: &[Vec<u8>],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    keys.iter()
        .map(|k| standard_signature(k, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `sha256=<hex>` over the body.
pub fn github_signature(key: &[u8], body: &[u8]) -> String {
    let mut m = mac(key);
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// Checks an `X-Hub-Signature-256` header against `body` in constant time. The `sha256=`
/// prefix is optional (the original service accepted both); anything that is not hex fails.
pub fn verify_github(key: &[u8], body: &[u8], header: &str) -> bool {
    let hex_part = header.trim();
    let hex_part = hex_part.strip_prefix("sha256=").unwrap_or(hex_part);
    let Ok(expected) = hex::decode(hex_part) else {
        return false;
    };
    let mut m = mac(key);
    m.update(body);
    m.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4231_case_2_known_answer() {
        // HMAC-SHA256 with key "Jefe" over "what do ya want for nothing?".
        let sig = github_signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn standard_webhooks_published_vector() {
        // The example from the Standard Webhooks specification.
        let key = B64
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("valid base64");
        let body = br#"{"test": 2432232314}"#;
        let sig = standard_signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn overlapping_keys_give_two_space_separated_signatures() {
        let header = standard_signature_header(&[b"a".to_vec(), b"b".to_vec()], "m", 1, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.split(' ').all(|s| s.starts_with("v1,")));
    }

    #[test]
    fn github_verification_accepts_with_or_without_prefix_and_rejects_junk() {
        let sig = github_signature(b"k", b"body");
        assert!(verify_github(b"k", b"body", &sig));
        assert!(verify_github(
            b"k",
            b"body",
            sig.trim_start_matches("sha256=")
        ));
        assert!(!verify_github(b"k", b"body2", &sig));
        assert!(!verify_github(b"k2", b"body", &sig));
        assert!(!verify_github(b"k", b"body", "sha256=zz"));
        assert!(!verify_github(b"k", b"body", "sha256=ébc"));
        assert!(!verify_github(b"k", b"body", ""));
    }

    proptest! {
        #[test]
        fn a_signature_verifies_only_its_own_body(key in proptest::collection::vec(any::<u8>(), 0..64),
                                                 body in proptest::collection::vec(any::<u8>(), 0..256),
                                                 other in proptest::collection::vec(any::<u8>(), 0..256)) {
            let sig = github_signature(&key, &body);
            prop_assert!(verify_github(&key, &body, &sig));
            prop_assert_eq!(verify_github(&key, &other, &sig), other == body);
        }
    }
}
