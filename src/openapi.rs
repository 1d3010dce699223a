//! The OpenAPI document: every route, its bodies and examples, and the bearer security scheme.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;
use crate::openapi_contract::Contract;
use crate::routes::{
    api_keys, applications, auth_session, deliveries, event_types, explorer, health, ingest,
    portal, stats, stream, subscriptions,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Courier", description = "Webhook delivery engine: subscriptions, signed ingestion, \
        retried deliveries, an attempt log and live operations. Management routes need \
        `Authorization: Bearer <key>` (COURIER_API_KEY or a named `ck_` key) or the session cookie from \
        `POST /auth/session`; an application-scoped key gets 403 on admin routes and 404 for other \
        applications' ids. Lists are JSON arrays; the next page's cursor is in \
        the `X-Next-Cursor` response header. Errors are `{code, message}` with RFC 7807 fields."),
    paths(
        health::health, health::ready,
        subscriptions::create_subscription, subscriptions::list_subscriptions, subscriptions::get_subscription,
        subscriptions::replace_subscription, subscriptions::patch_subscription, subscriptions::delete_subscription,
        subscriptions::pause_subscription, subscriptions::resume_subscription, subscriptions::rotate_secret,
        ingest::send_test_event, ingest::ingest_raw, ingest::ingest_envelope, ingest::ingest_fanout,
        deliveries::get_delivery, deliveries::list_deliveries, deliveries::retry_delivery, deliveries::skip_delivery, deliveries::recover,
        deliveries::get_message, deliveries::list_application_deliveries, stream::stream_attempts, stats::overview, crate::observability::render,
        applications::create_application, applications::list_applications, applications::get_application,
        applications::patch_application, applications::delete_application,
        api_keys::create_api_key, api_keys::list_api_keys, api_keys::revoke_api_key,
        event_types::create_event_type, event_types::list_event_types, event_types::get_event_type,
        event_types::patch_event_type,
        auth_session::create_session, auth_session::current_session, auth_session::end_session,
        explorer::search_deliveries, explorer::search_messages, explorer::bulk_retry, explorer::bulk_cancel,
        explorer::subscriptions_health, explorer::subscription_stats,
        portal::create_link, portal::list_links, portal::revoke_link,
        portal::session::open_session, portal::session::current_session, portal::session::end_session,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth, &Contract),
    tags((name = "subscriptions", description = "Who receives which events"),
         (name = "ingestion", description = "Producers hand events in; 202 means committed"),
         (name = "deliveries", description = "Status, the attempt log, live tail, retry and recover"),
         (name = "operations", description = "Health, readiness, metrics"),
         (name = "applications", description = "Tenants: every subscription, message and key belongs to one"),
         (name = "keys", description = "Named API keys (admin or one application) and browser sessions"),
         (name = "event types", description = "The catalog of event types, with optional JSON Schemas"),
         (name = "portal", description = "The consumer portal: one-time links for an application's customer, and the sessions they open"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "portal_session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The `session_token` (`cps_…`) of POST /portal/session; it reaches the \
                         portal's routes of one application",
                    ))
                    .build(),
            ),
        );
    }
}
