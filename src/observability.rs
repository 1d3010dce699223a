//! Prometheus metrics: the recorder (installed once per process), `GET /metrics`, and the
//! gauges read from the engine at scrape time. Counters and histograms are recorded where
//! things happen (`courier_actors` emits its own through the `metrics` facade).
//!
//! Series: `courier_ingest_messages_total{route}`, `courier_ingest_deliveries_total{status}`,
//! `courier_attempts_total{outcome}`, `courier_deliveries_finished_total{status}`,
//! `courier_attempt_duration_seconds`, `courier_delivery_latency_seconds` (message accepted →
//! delivered), `courier_http_requests_total{route,status}`, `courier_http_request_duration_seconds{route}`,
//! and the gauges `courier_queue_depth`, `courier_pending_retries`, `courier_in_flight`,
//! `courier_actors_alive`, `courier_subscriptions{status}`,
//! `courier_concurrency_reduced_subscriptions` (adaptive concurrency below `max_in_flight`),
//! `courier_attempt_permits{state}` and `courier_attempt_permit_waiters` (the node's fairly
//! shared capacity), beside the counter `courier_concurrency_changes_total{direction}`.

use std::sync::OnceLock;

use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::routes::RouteExt;
use crate::state::AppState;

const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the global recorder the first time; later calls (tests) reuse it.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            spawn_upkeep(handle.clone());
            Some(handle)
        })
        .as_ref()
}

/// How often histogram samples are drained into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Histogram samples wait in the recorder until they are drained into buckets. Rendering
/// `/metrics` drains them, but with nobody scraping they would pile up without bound (a few
/// MiB a minute at 800 msg/s), so a thread of its own drains them every few seconds.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the metrics upkeep thread; scrape /metrics to drain histograms");
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.at("/metrics", web::get().to(render));
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
pub async fn render(state: web::Data<AppState>) -> HttpResponse {
    let load = state.engine.load().await;
    metrics::gauge!("courier_queue_depth").set(load.queued as f64);
    metrics::gauge!("courier_pending_retries").set(load.scheduled as f64);
    metrics::gauge!("courier_in_flight").set(load.in_flight as f64);
    metrics::gauge!("courier_actors_alive").set(load.actors as f64);
    metrics::gauge!("courier_concurrency_reduced_subscriptions")
        .set(load.concurrency_reduced as f64);
    let cap = state.engine.capacity();
    metrics::gauge!("courier_attempt_permits", "state" => "in_use").set(cap.in_use as f64);
    metrics::gauge!("courier_attempt_permits", "state" => "free")
        .set((cap.total - cap.in_use) as f64);
    metrics::gauge!("courier_attempt_permit_waiters").set(cap.waiting as f64);
    for (status, n) in state.engine.directory().count_by_status() {
        metrics::gauge!("courier_subscriptions", "status" => status).set(n as f64);
    }
    let body = handle().map(PrometheusHandle::render).unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
