//! What a consumer-portal session may do, checked in one place for every route: the
//! `authenticate` step of every extractor calls [`check`] for portal principals.
//!
//! - Only the routes in [`PORTAL_ROUTES`] (plain or under `/applications/{app}`): the
//!   application's own endpoints, their deliveries, attempts, stats and actions, and the
//!   event-type catalog. Everything else is `403` (admin routes, API keys, portal links,
//!   applications, ingestion and fan-out, bulk actions, the live stream).
//! - A read-only session gets `403 read_only` on every method but GET, HEAD and OPTIONS.
//!
//! Another application's objects stay `404` through the usual tenancy checks: a portal
//! principal is an application principal.
//!
//! Must never happen: a portal session reaching a route not listed here, or a read-only one
//! changing anything.

use actix_web::HttpRequest;
use actix_web::http::Method;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::routes::SCOPED;

/// The route patterns (as registered) a portal session may call.
pub const PORTAL_ROUTES: &[&str] = &[
    "/portal/session",
    "/event-types",
    "/event-types/{name}",
    "/subscriptions",
    "/subscriptions/{id}",
    "/subscriptions/{id}/pause",
    "/subscriptions/{id}/resume",
    "/subscriptions/{id}/rotate-secret",
    "/subscriptions/{id}/test",
    "/subscriptions/{id}/recover",
    "/subscriptions/{id}/deliveries",
    "/subscriptions/{id}/recent-deliveries",
    "/subscriptions/{id}/stats",
    "/stats/subscriptions",
    "/deliveries/{id}",
    "/webhooks/status/{id}",
    "/deliveries/{id}/retry",
    "/messages/{id}",
];

/// Whether a route pattern is one of the portal's.
pub fn is_portal_route(pattern: &str) -> bool {
    let tail = pattern.strip_prefix(SCOPED).unwrap_or(pattern);
    PORTAL_ROUTES.contains(&tail)
}

/// `403` when a portal principal asks for a route outside the portal, or changes state with
/// a read-only link. Other principals pass.
pub fn check(req: &HttpRequest, principal: &Principal) -> ApiResult<()> {
    let Some(portal) = principal.portal() else {
        return Ok(());
    };
    let pattern = req.match_pattern().unwrap_or_default();
    if !is_portal_route(&pattern) {
        return Err(ApiError::Forbidden(
            "a portal session reaches only the consumer portal's routes".into(),
        ));
    }
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if portal.read_only && !reads {
        return Err(ApiError::ReadOnly);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_routes_are_matched_plain_and_scoped_and_nothing_else() {
        assert!(is_portal_route("/subscriptions/{id}"));
        assert!(is_portal_route(
            "/applications/{app}/subscriptions/{id}/deliveries"
        ));
        for other in [
            "",
            "/api-keys",
            "/applications/{app}",
            "/applications/{app}/portal-links",
            "/events",
            "/applications/{app}/events",
            "/deliveries/retry",
            "/deliveries",
            "/stream",
            "/auth/session",
            "/ingest/{id}",
        ] {
            assert!(!is_portal_route(other), "{other:?}");
        }
    }
}
