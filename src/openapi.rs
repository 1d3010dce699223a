//! The OpenAPI document: every route, its bodies and examples, and the bearer security scheme.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;
use crate::routes::{deliveries, explorer, health, ingest, stats, stream, subscriptions};

#[derive(OpenApi)]
#[openapi(
    info(title = "Courier", description = "Webhook delivery engine: subscriptions, signed ingestion, \
        retried deliveries, an attempt log and live operations. Management routes need \
        `Authorization: Bearer <COURIER_API_KEY>`. Lists are JSON arrays; the next page's cursor is in \
        the `X-Next-Cursor` response header. Errors are `{code, message}` with RFC 7807 fields."),
    paths(
        health::health, health::ready,
        subscriptions::create_subscription, subscriptions::list_subscriptions, subscriptions::get_subscription,
        subscriptions::replace_subscription, subscriptions::patch_subscription, subscriptions::delete_subscription,
        subscriptions::pause_subscription, subscriptions::resume_subscription, subscriptions::rotate_secret,
        ingest::send_test_event, ingest::ingest_raw, ingest::ingest_envelope, ingest::ingest_fanout,
        deliveries::get_delivery, deliveries::list_deliveries, deliveries::retry_delivery, deliveries::recover,
        deliveries::get_message, stream::stream_attempts, stats::overview, crate::observability::render,
        explorer::search_deliveries, explorer::search_messages, explorer::bulk_retry, explorer::bulk_cancel,
        explorer::subscriptions_health, explorer::subscription_stats,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags((name = "subscriptions", description = "Who receives which events"),
         (name = "ingestion", description = "Producers hand events in; 202 means committed"),
         (name = "deliveries", description = "Status, the attempt log, live tail, retry and recover"),
         (name = "operations", description = "Health, readiness, metrics"))
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
    }
}
