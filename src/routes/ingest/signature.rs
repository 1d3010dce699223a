//! Who may ingest for a subscription: a valid `X-Hub-Signature-256` when the subscription has
//! a client-chosen secret (over the raw body, or over the compact JSON of the envelope's
//! `payload` as the original service's clients sign it), else the API key. Signatures are
//! compared in constant time.

use actix_web::HttpRequest;
use chrono::Utc;
use courier_actors::crypto::KeyRing;
use courier_actors::db::subscriptions::SubscriptionRow;
use courier_actors::signing::verify_github;

use crate::auth::authenticate;
use crate::error::{ApiError, ApiResult};

/// A subscription with a client-chosen secret needs a valid `X-Hub-Signature-256` over one
/// of `signed`; one without needs credentials that reach its application (else `401`, or
/// `404` for another application's subscription).
pub async fn authorize(
    req: &HttpRequest,
    ring: &KeyRing,
    sub: &SubscriptionRow,
    signed: &[&[u8]],
) -> ApiResult<()> {
    if !sub.requires_signature {
        let principal = authenticate(req).await?;
        return if principal.can_access(sub.application_id) {
            Ok(())
        } else {
            Err(ApiError::NotFound("subscription"))
        };
    }
    let header = req
        .headers()
        .get("x-hub-signature-256")
        .ok_or(ApiError::SignatureRequired)?;
    let header = header.to_str().map_err(|_| ApiError::InvalidSignature)?;
    let keys: Vec<Vec<u8>> = sub
        .signing_secrets(ring, Utc::now())
        .map_err(ApiError::internal)?
        .iter()
        .map(|s| s.key_bytes())
        .collect();
    let ok = keys
        .iter()
        .any(|k| signed.iter().any(|body| verify_github(k, body, header)));
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidSignature)
    }
}

/// The compact forms of a JSON text the original's clients sign: whitespace outside strings
/// removed, keys in the order sent; and the same with non-ASCII escaped as `\uXXXX` (what
/// Python's `json.dumps` produces by default).
pub fn compact_forms(json: &str) -> (String, String) {
    let mut plain = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            plain.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            plain.push(c);
        }
    }
    let mut ascii = String::with_capacity(plain.len());
    for c in plain.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    (plain, ascii)
}

#[cfg(test)]
mod tests {
    use super::compact_forms;

    #[test]
    fn compact_forms_drop_whitespace_outside_strings_and_keep_key_order() {
        let (plain, ascii) = compact_forms("{ \"b\": 1,\n \"a\" : \"x y\\\" é\" }");
        assert_eq!(plain, "{\"b\":1,\"a\":\"x y\\\" é\"}");
        assert_eq!(ascii, "{\"b\":1,\"a\":\"x y\\\" \\u00e9\"}");
    }
}
