//! Steady traffic: one open-loop sender per node, each at a fixed rate for as long as it runs,
//! with at most [`IN_FLIGHT`] requests outstanding (so a stopped or cut-off node only costs
//! its own share). Nine in ten requests are signed per-subscription ingests to a random load
//! subscription; one in ten is an `/events` fan-out reaching a quarter of them. Every
//! delivery answered 202 (pending or held) is recorded.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::api::{self, Sub};

const IN_FLIGHT: usize = 16;
/// Fan-out groups: subscription `i` takes `fan.<i % FAN_GROUPS>`.
pub const FAN_GROUPS: usize = 4;

#[derive(Debug, Default)]
pub struct LoadStats {
    /// Deliveries answered 202 (pending or held).
    pub accepted: Vec<String>,
    /// Requests answered 202.
    pub requests_ok: u64,
    /// No answer (node stopped, cut off or dead), 503 or 408: the client would try again.
    pub unanswered: u64,
    /// Any other answer: must stay empty.
    pub unexpected: Vec<String>,
}

pub struct Loader {
    stop: Arc<AtomicBool>,
    tasks: Vec<actix_web::rt::task::JoinHandle<()>>,
    stats: Arc<Mutex<LoadStats>>,
}

/// The event types load subscription `index` takes.
pub fn event_types(index: usize) -> Vec<String> {
    vec!["load.*".into(), format!("fan.{}", index % FAN_GROUPS)]
}

impl Loader {
    /// Starts one sender per node base URL, `rate` requests a second each.
    pub fn start(nodes: &[String], subs: &[Sub], rate: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(LoadStats::default()));
        let subs = Arc::new(subs.to_vec());
        let tasks = nodes
            .iter()
            .enumerate()
            .map(|(i, base)| {
                let (stop, stats, subs, base) =
                    (stop.clone(), stats.clone(), subs.clone(), base.clone());
                actix_web::rt::spawn(sender(i + 1, base, subs, rate, stop, stats))
            })
            .collect();
        Self { stop, tasks, stats }
    }

    /// Stops sending, waits for the answers still due, and returns what was accepted.
    pub async fn stop(self) -> LoadStats {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            let _ = t.await;
        }
        Arc::try_unwrap(self.stats)
            .ok()
            .and_then(|m| m.into_inner().ok())
            .unwrap_or_default()
    }
}

async fn sender(
    node: usize,
    base: String,
    subs: Arc<Vec<Sub>>,
    rate: u64,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<LoadStats>>,
) {
    let client = api::client(Duration::from_secs(3));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seed = (node as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut n: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        tick.tick().await;
        if in_flight.load(Ordering::SeqCst) >= IN_FLIGHT {
            continue;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        n += 1;
        let (client, base, subs, stats, in_flight) = (
            client.clone(),
            base.clone(),
            subs.clone(),
            stats.clone(),
            in_flight.clone(),
        );
        in_flight.fetch_add(1, Ordering::SeqCst);
        let pick = usize::try_from(seed % 1_000_000).unwrap_or(0);
        actix_web::rt::spawn(async move {
            let answer = if n.is_multiple_of(10) {
                let group = pick % FAN_GROUPS;
                api::fan_out(
                    &client,
                    &base,
                    &format!("fan.{group}"),
                    json!({"node": node, "n": n}),
                )
                .await
            } else {
                let sub = &subs[pick % subs.len()];
                let body = json!({"node": node, "n": n, "pad": "x".repeat(100)}).to_string();
                api::ingest(
                    &client,
                    &base,
                    sub,
                    &sub.secret,
                    "load.test",
                    body.as_bytes(),
                )
                .await
            };
            record(&stats, node, answer);
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
    while in_flight.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn record(stats: &Mutex<LoadStats>, node: usize, answer: api::Answer) {
    let Ok(mut s) = stats.lock() else {
        return;
    };
    match answer {
        Ok((202, v)) => {
            s.requests_ok += 1;
            s.accepted
                .extend(api::deliveries_of(&v).into_iter().map(|(d, _)| d));
        }
        // 503: a dependency is down; 408: the node was frozen while the request arrived.
        Ok((503 | 408, _)) | Err(_) => s.unanswered += 1,
        Ok((status, v)) => s.unexpected.push(format!("node {node}: {status} {v}")),
    }
}
