//! API key authentication: the `ApiKey` extractor. A handler that takes it runs only for
//! requests carrying `Authorization: Bearer <COURIER_API_KEY>`; everything else gets `401`.
//! The comparison is constant-time over SHA-256 digests, so neither content nor length leaks.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// Proof that the request carried the API key.
#[derive(Debug, Clone, Copy)]
pub struct ApiKey;

/// Constant-time equality of two byte strings, via their digests.
pub fn keys_match(given: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(given);
    let b = Sha256::digest(expected);
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Whether the request carries the API key (in the header, or as `?api_key=` when
/// `allow_query` is set, for EventSource clients that cannot send headers).
pub fn has_api_key(req: &HttpRequest, allow_query: bool) -> bool {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return false;
    };
    let expected = state.settings.api_key.expose().as_bytes();
    if let Some(token) = bearer_token(req) {
        return keys_match(token.as_bytes(), expected);
    }
    if allow_query {
        let query =
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string());
        if let Some(key) = query.ok().and_then(|q| q.get("api_key").cloned()) {
            return keys_match(key.as_bytes(), expected);
        }
    }
    false
}

impl FromRequest for ApiKey {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(if has_api_key(req, false) {
            Ok(ApiKey)
        } else {
            Err(ApiError::Unauthorized)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::keys_match;

    #[test]
    fn keys_match_only_when_equal() {
        assert!(keys_match(b"abc", b"abc"));
        assert!(!keys_match(b"abc", b"abd"));
        assert!(!keys_match(b"abc", b"abcd"));
        assert!(!keys_match(b"", b"abc"));
    }
}
