//! Authentication and authorisation at the HTTP edge: who a request is ([`Principal`]) and
//! the extractors that routes take.
//!
//! - Credentials: `Authorization: Bearer <token>`, where the token is the bootstrap
//!   `COURIER_API_KEY` (constant-time compare) or a named `ck_` key; or the
//!   `courier_session` cookie from `POST /auth/session`. A bearer header wins over a cookie;
//!   a wrong bearer is `401` even with a good cookie. No credential is ever read from the
//!   URL: `?api_key=` is ignored everywhere.
//! - [`ApiKey`]: the route needs an admin principal — `401` without credentials, `403` for
//!   an application-scoped one. [`Principal`] itself is the extractor of application-scoped
//!   routes: the handler calls [`Principal::require_access`] with the application's id,
//!   which answers `404` for another application (so ids of other tenants cannot be probed).
//! - Consumer-portal sessions (`cps_` bearer tokens from `POST /portal/session`) are
//!   application principals limited to the portal's routes, and to reads when their link
//!   was read-only: both enforced here, in [`authenticate`], for every extractor.
//! - CSRF: a cookie-authenticated request with a method other than GET, HEAD or OPTIONS must
//!   carry `X-Courier-CSRF` (any non-empty value; cross-site pages cannot set custom headers
//!   without a CORS preflight, which Courier never grants), and its `Origin`, when present,
//!   must be this server's. Otherwise `403 csrf_rejected`. Bearer requests are not subject
//!   to it (a browser never adds a bearer header by itself).
//!
//! Must never happen: a route reachable by an application principal that shows another
//! application's data; a session accepted without the CSRF header on a state change.

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use courier_actors::access::{Grant, Scope, portal};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub use courier_actors::access::keys_match;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "courier_session";
/// The header a cookie-authenticated state change must carry.
pub const CSRF_HEADER: &str = "x-courier-csrf";

/// Who a request is. Admin principals reach everything; application principals only their
/// own application's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    grant: Grant,
}

/// How a principal authenticated, for logs and `GET /auth/session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// `COURIER_API_KEY`.
    Bootstrap,
    /// A named key with `admin` scope.
    AdminKey,
    /// A named key with `application` scope.
    ApplicationKey,
    /// A consumer-portal session (opened from a portal link).
    Portal,
}

impl Principal {
    pub fn new(grant: Grant) -> Self {
        Self { grant }
    }

    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    pub fn scope(&self) -> Scope {
        self.grant.scope
    }

    pub fn kind(&self) -> PrincipalKind {
        if self.grant.portal.is_some() {
            return PrincipalKind::Portal;
        }
        match (self.grant.scope, self.grant.key_id) {
            (Scope::Admin, None) => PrincipalKind::Bootstrap,
            (Scope::Admin, Some(_)) => PrincipalKind::AdminKey,
            (Scope::Application(_), _) => PrincipalKind::ApplicationKey,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.grant.scope == Scope::Admin
    }

    /// The application an application-scoped principal is limited to.
    pub fn application_id(&self) -> Option<Uuid> {
        self.grant.scope.application_id()
    }

    /// The named key behind it (`None` for the bootstrap key).
    pub fn key_id(&self) -> Option<Uuid> {
        self.grant.key_id
    }

    /// The portal grant of a consumer-portal session.
    pub fn portal(&self) -> Option<courier_actors::access::PortalGrant> {
        self.grant.portal
    }

    /// Whether it came from a session cookie.
    pub fn via_session(&self) -> bool {
        self.grant.session_expires_at.is_some()
    }

    /// Whether it may act on application `app_id`.
    pub fn can_access(&self, app_id: Uuid) -> bool {
        match self.grant.scope {
            Scope::Admin => true,
            Scope::Application(own) => own == app_id,
        }
    }

    /// `404 application not found` unless it may act on `app_id`.
    pub fn require_access(&self, app_id: Uuid) -> ApiResult<()> {
        if self.can_access(app_id) {
            Ok(())
        } else {
            Err(ApiError::NotFound("application"))
        }
    }

    /// `403` unless it is an admin principal.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this route needs an admin key; an application key reaches only its own \
                 application's routes"
                    .into(),
            ))
        }
    }
}

/// Proof that the request came from an admin principal (the bootstrap key, an admin key,
/// or a session made from one).
#[derive(Debug, Clone, Copy)]
pub struct ApiKey(pub Principal);

/// The bearer token of a request, if it has one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether the request carries the bootstrap key `COURIER_API_KEY` as a bearer token.
/// Synchronous, so it cannot check named keys or sessions: use [`authenticate`] for those.
/// `_allow_query` is ignored: no key is ever read from the URL.
pub fn has_api_key(req: &HttpRequest, _allow_query: bool) -> bool {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return false;
    };
    bearer_token(req).is_some_and(|token| {
        keys_match(token.as_bytes(), state.settings.api_key.expose().as_bytes())
    })
}

/// Who the request is: `401` without valid credentials, `403 csrf_rejected` for a
/// cookie-authenticated state change without the CSRF header, `403` for a portal session
/// outside the portal's routes or changing state with a read-only link
/// ([`crate::routes::portal::guard`]), `503` when Postgres is down.
pub async fn authenticate(req: &HttpRequest) -> ApiResult<Principal> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Unauthorized)?;
    if req.headers().contains_key(header::AUTHORIZATION) {
        let token = bearer_token(req).ok_or(ApiError::Unauthorized)?;
        if portal::looks_like_session(token) {
            let grant = state.keys.authenticate_portal(token).await?;
            let principal = grant
                .map(Principal::new)
                .ok_or(ApiError::PortalSessionEnded)?;
            crate::routes::portal::guard::check(req, &principal)?;
            return Ok(principal);
        }
        let grant = state.keys.authenticate_bearer(token).await?;
        return grant.map(Principal::new).ok_or(ApiError::Unauthorized);
    }
    let token = session_cookie(req).ok_or(ApiError::Unauthorized)?;
    let grant = state
        .keys
        .authenticate_session(&token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    check_csrf(req)?;
    Ok(Principal::new(grant))
}

/// The CSRF rule for cookie-authenticated requests (see the module docs).
pub fn check_csrf(req: &HttpRequest) -> ApiResult<()> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let marked = req
        .headers()
        .get(CSRF_HEADER)
        .is_some_and(|v| !v.as_bytes().is_empty());
    if !marked {
        return Err(ApiError::CsrfRejected(
            "a request authenticated by the session cookie that changes state must carry the \
             X-Courier-CSRF header"
                .into(),
        ));
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let info = req.connection_info();
        let own = format!("{}://{}", info.scheme(), info.host());
        if origin.as_bytes() != own.as_bytes() {
            return Err(ApiError::CsrfRejected(format!(
                "the request's Origin is not {own}"
            )));
        }
    }
    Ok(())
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

impl FromRequest for ApiKey {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = authenticate(&req).await?;
            principal.require_admin()?;
            Ok(ApiKey(principal))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn grant(scope: Scope, key: Option<Uuid>) -> Principal {
        Principal::new(Grant {
            scope,
            key_id: key,
            session_expires_at: None,
            portal: None,
        })
    }

    #[test]
    fn application_principals_reach_only_their_own_application() {
        let mine = Uuid::now_v7();
        let other = Uuid::now_v7();
        let app = grant(Scope::Application(mine), Some(Uuid::now_v7()));
        assert!(app.can_access(mine));
        assert!(!app.can_access(other));
        assert!(matches!(
            app.require_access(other),
            Err(ApiError::NotFound("application"))
        ));
        assert!(matches!(app.require_admin(), Err(ApiError::Forbidden(_))));
        assert_eq!(app.kind(), PrincipalKind::ApplicationKey);
        let admin = grant(Scope::Admin, None);
        assert!(admin.can_access(other) && admin.require_admin().is_ok());
        assert_eq!(admin.kind(), PrincipalKind::Bootstrap);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; courier_session=cs_abc; b=2"))
            .to_http_request();
        assert_eq!(session_cookie(&req).as_deref(), Some("cs_abc"));
        let none = TestRequest::default()
            .insert_header((header::COOKIE, "courier_session_x=1"))
            .to_http_request();
        assert_eq!(session_cookie(&none), None);
    }

    #[test]
    fn csrf_needs_the_header_and_a_matching_origin_on_state_changes_only() {
        let get = TestRequest::get().to_http_request();
        assert!(check_csrf(&get).is_ok());
        let bare = TestRequest::post().to_http_request();
        assert!(matches!(check_csrf(&bare), Err(ApiError::CsrfRejected(_))));
        let marked = TestRequest::post()
            .insert_header((CSRF_HEADER, "1"))
            .to_http_request();
        assert!(check_csrf(&marked).is_ok());
        let foreign = TestRequest::delete()
            .insert_header((CSRF_HEADER, "1"))
            .insert_header((header::ORIGIN, "https://evil.example"))
            .to_http_request();
        assert!(matches!(
            check_csrf(&foreign),
            Err(ApiError::CsrfRejected(_))
        ));
    }
}
