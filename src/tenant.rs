//! Which application a request acts on. Every route that touches subscriptions, messages,
//! deliveries or the live stream takes a [`Tenant`]:
//!
//! - Under `/applications/{app}/…` the application is `{app}` (id or uid) — `404` when it
//!   does not exist or the principal may not reach it.
//! - Elsewhere it is the principal's *home*: the built-in `default` application for an
//!   admin principal, its own application for an application-scoped one. So a single-tenant
//!   user never names an application, and a customer's key works on the plain routes too.
//!
//! Creating and listing happen in [`Tenant::app_id`]. An object named by id (a subscription,
//! a delivery, a message) is reachable when [`Tenant::reaches`] its application: under
//! `/applications/{app}` only that application's; elsewhere any the principal may access
//! (an admin reaches every application). Anything else is `404`, so ids of other tenants
//! cannot be probed.
//!
//! Must never: let an application principal see or change another application's objects.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use courier_actors::db::applications::DEFAULT_APP_ID;
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::auth::{Principal, authenticate};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub struct Tenant {
    pub principal: Principal,
    /// The application created and listed objects belong to.
    pub app_id: Uuid,
    /// Named in the path (`/applications/{app}/…`): nothing outside it is reachable.
    pub scoped: bool,
}

impl Tenant {
    /// Whether an object of `application_id` is reachable from here.
    pub fn reaches(&self, application_id: Uuid) -> bool {
        if self.scoped {
            application_id == self.app_id
        } else {
            self.principal.can_access(application_id)
        }
    }

    /// `404 {what} not found` unless [`Tenant::reaches`] `application_id`.
    pub fn check(&self, application_id: Uuid, what: &'static str) -> ApiResult<()> {
        if self.reaches(application_id) {
            Ok(())
        } else {
            Err(ApiError::NotFound(what))
        }
    }

    /// The applications an aggregate (overview, live stream, global log) covers: `None` for
    /// every application (an admin on a plain route), else the one.
    pub fn visible(&self) -> Option<Uuid> {
        match (self.scoped, self.principal.application_id()) {
            (true, _) => Some(self.app_id),
            (false, Some(own)) => Some(own),
            (false, None) => None,
        }
    }

    async fn from_req(req: HttpRequest) -> ApiResult<Self> {
        let principal = authenticate(&req).await?;
        let Some(key) = req.match_info().get("app") else {
            return Ok(Self {
                app_id: principal.application_id().unwrap_or(DEFAULT_APP_ID),
                principal,
                scoped: false,
            });
        };
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or(ApiError::Unauthorized)?;
        let app = crate::routes::applications::resolve(state, &principal, key).await?;
        Ok(Self {
            principal,
            app_id: app.id,
            scoped: true,
        })
    }
}

impl FromRequest for Tenant {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(Self::from_req(req))
    }
}

/// The `{id}` segment of a route, parsed (`400 invalid_id` otherwise).
pub fn path_id(req: &HttpRequest, name: &str) -> ApiResult<Uuid> {
    let raw = req
        .match_info()
        .get(name)
        .ok_or_else(|| ApiError::InvalidId(format!("the path has no {name}")))?;
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::InvalidId(format!("{raw:?} is not a valid id (a UUID)")))
}
