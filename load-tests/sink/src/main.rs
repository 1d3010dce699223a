//! `courier-sink`: a fast webhook receiver for Courier's load tests.
//!
//! - `POST /<any path>` answers `200` (or `SINK_STATUS`) at once, counts the delivery, and when
//!   the body carries `"sent_at_us": <epoch µs>` records `now - sent_at_us` (end-to-end latency)
//!   in a log-linear histogram.
//! - `GET /stats` → `{count, ok, failed, ..., p50_ms, p95_ms, p99_ms, max_ms, first_at_us,
//!   last_at_us, rate_per_s, in_flight, peak_in_flight}` (`in_flight`: requests being answered
//!   now, which with `--delay-ms` is how many attempts the sender holds open against it).
//! - `POST /reset` zeroes everything and answers `{reset, count_before, ok_before}`.
//!   `GET /health` → `200`.
//! - `--delay-ms` is at most 60 s: a slow or stalled receiver still answers every request.
//!
//! Settings (flag or env, flag wins): `--bind`/`SINK_BIND` (127.0.0.1:9100),
//! `--workers`/`SINK_WORKERS` (available cores), `--fail-rate`/`SINK_FAIL_RATE` (0..1: answer
//! 500 to that fraction, for failing-receiver scenarios), `--delay-ms`/`SINK_DELAY_MS` (answer
//! after that long, for slow receivers), `--status`/`SINK_STATUS` (success status, default 200;
//! 202 lets the sink stand in for Courier's ingest when dry-running the k6 scripts),
//! `SINK_TRACK_IDS=1` (remember every `webhook-id` answered with success, so `/stats` also
//! reports `distinct` messages and `duplicates`: arrivals beyond the first; costs a lock per
//! request, so it is off for the throughput benchmarks).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use courier_sink::{Histogram, find_sent_at_us, now_us};

/// Settings, read once at start.
#[derive(Clone, Debug)]
struct Settings {
    bind: String,
    workers: usize,
    /// Fraction of deliveries answered `500`, chosen by a hash of an arrival counter so the
    /// pattern is deterministic and evenly spread without a random-number crate.
    fail_rate: f64,
    /// Delay before answering, in ms (0 = none).
    delay_ms: u64,
    /// Status of a successful answer.
    status: u16,
    /// Remember message ids (`SINK_TRACK_IDS=1`) to count distinct messages and duplicates.
    track_ids: bool,
}

impl Settings {
    fn load() -> Result<Self, String> {
        let mut s = Settings {
            bind: env("SINK_BIND").unwrap_or_else(|| "127.0.0.1:9100".into()),
            workers: env("SINK_WORKERS")
                .map(|v| v.parse().map_err(|_| format!("SINK_WORKERS: {v}")))
                .transpose()?
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            fail_rate: env("SINK_FAIL_RATE")
                .map(|v| v.parse().map_err(|_| format!("SINK_FAIL_RATE: {v}")))
                .transpose()?
                .unwrap_or(0.0),
            delay_ms: env("SINK_DELAY_MS")
                .map(|v| v.parse().map_err(|_| format!("SINK_DELAY_MS: {v}")))
                .transpose()?
                .unwrap_or(0),
            status: env("SINK_STATUS")
                .map(|v| v.parse().map_err(|_| format!("SINK_STATUS: {v}")))
                .transpose()?
                .unwrap_or(200),
            track_ids: env("SINK_TRACK_IDS").is_some_and(|v| v == "1" || v == "true"),
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            if flag == "-h" || flag == "--help" {
                println!("{}", USAGE);
                std::process::exit(0);
            }
            let val = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("bad value for {flag}: {val} ({e})");
            match flag.as_str() {
                "--bind" => s.bind = val.clone(),
                "--workers" => s.workers = val.parse().map_err(|e| bad(&e))?,
                "--fail-rate" => s.fail_rate = val.parse().map_err(|e| bad(&e))?,
                "--delay-ms" => s.delay_ms = val.parse().map_err(|e| bad(&e))?,
                "--status" => s.status = val.parse().map_err(|e| bad(&e))?,
                _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
            }
        }
        if s.delay_ms > MAX_DELAY_MS {
            return Err(format!(
                "delay must be at most {MAX_DELAY_MS} ms, got {}",
                s.delay_ms
            ));
        }
        if !(0.0..=1.0).contains(&s.fail_rate) {
            return Err(format!(
                "fail rate must be within 0..1, got {}",
                s.fail_rate
            ));
        }
        StatusCode::from_u16(s.status).map_err(|_| format!("bad status {}", s.status))?;
        s.workers = s.workers.max(1);
        Ok(s)
    }
}

/// Longest `--delay-ms`: a stalled receiver still answers, so no request is held forever.
const MAX_DELAY_MS: u64 = 60_000;

const USAGE: &str = "usage: courier-sink [--bind 127.0.0.1:9100] [--workers N] [--fail-rate 0..1] [--delay-ms MS] [--status 200]";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Counters shared by all workers. Atomics only: no lock on the request path.
#[derive(Default)]
struct Stats {
    /// Every POST received (ok + failed).
    count: AtomicU64,
    /// Answered with the success status.
    ok: AtomicU64,
    /// Answered `500` because of `fail_rate`.
    failed: AtomicU64,
    /// Requests whose `X-Courier-Attempt` was above 1 (retries reaching the sink).
    retried: AtomicU64,
    /// Requests carrying a `webhook-signature` header (i.e. sent by Courier).
    signed: AtomicU64,
    bytes: AtomicU64,
    /// Requests received and not yet answered (or abandoned by the sender), and the most at
    /// once since the last reset.
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
    /// Arrival time of the first and last request, epoch µs (0 = none yet).
    first_at_us: AtomicU64,
    last_at_us: AtomicU64,
    /// End-to-end latency of successful deliveries that carried `sent_at_us`.
    latency: Histogram,
    /// With `SINK_TRACK_IDS`: successful arrivals per `webhook-id` (a UUID, as a number).
    seen: Mutex<HashMap<u128, u32>>,
}

impl Stats {
    /// Zeroes `count` and `ok` and returns what they held (each read and zeroed in one step,
    /// so a caller adding them to later figures loses no delivery); restarts the peak of
    /// requests in flight. `reset` zeroes the rest.
    fn take_counts(&self) -> (u64, u64) {
        self.peak_in_flight
            .store(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
        (
            self.count.swap(0, Ordering::Relaxed),
            self.ok.swap(0, Ordering::Relaxed),
        )
    }

    /// Zeroes every figure but `count` and `ok` (see `take_counts`).
    fn reset(&self) {
        for c in [
            &self.failed,
            &self.retried,
            &self.signed,
            &self.bytes,
            &self.first_at_us,
            &self.last_at_us,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.latency.reset();
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
        }
    }

    /// Counts one successful arrival of `id`.
    fn saw(&self, id: &str) {
        let Ok(n) = u128::from_str_radix(&id.replace('-', ""), 16) else {
            return;
        };
        if let Ok(mut seen) = self.seen.lock() {
            *seen.entry(n).or_default() += 1;
        }
    }

    /// `(distinct ids, arrivals beyond the first)`.
    fn distinct_and_duplicates(&self) -> (u64, u64) {
        self.seen.lock().map_or((0, 0), |seen| {
            let dups: u64 = seen.values().map(|n| u64::from(n.saturating_sub(1))).sum();
            (seen.len() as u64, dups)
        })
    }

    fn snapshot(&self) -> serde_json::Value {
        let count = self.count.load(Ordering::Relaxed);
        let first = self.first_at_us.load(Ordering::Relaxed);
        let last = self.last_at_us.load(Ordering::Relaxed);
        let span_s = last.saturating_sub(first) as f64 / 1e6;
        let rate = if count > 1 && span_s > 0.0 {
            (count - 1) as f64 / span_s
        } else {
            0.0
        };
        let ms = |us: u64| us as f64 / 1000.0;
        let h = &self.latency;
        let (distinct, duplicates) = self.distinct_and_duplicates();
        serde_json::json!({
            "distinct": distinct,
            "duplicates": duplicates,
            "count": count,
            "ok": self.ok.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "retried": self.retried.load(Ordering::Relaxed),
            "signed": self.signed.load(Ordering::Relaxed),
            "bytes": self.bytes.load(Ordering::Relaxed),
            "latency_count": h.count(),
            "p50_ms": ms(h.quantile(0.50)),
            "p95_ms": ms(h.quantile(0.95)),
            "p99_ms": ms(h.quantile(0.99)),
            "max_ms": ms(h.max()),
            "mean_ms": h.mean().round() / 1000.0,
            "first_at_us": first,
            "last_at_us": last,
            "rate_per_s": (rate * 10.0).round() / 10.0,
            "in_flight": self.in_flight.load(Ordering::Relaxed),
            "peak_in_flight": self.peak_in_flight.load(Ordering::Relaxed),
        })
    }
}

struct AppState {
    settings: Settings,
    stats: Stats,
    /// Arrival counter used to pick failures deterministically.
    seq: AtomicU64,
}

/// splitmix64: a well-mixed hash of the arrival number, mapped to [0, 1).
fn unit_hash(n: u64) -> f64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Counts one request in flight for as long as it lives, so a request whose sender hangs up
/// mid-delay (actix then drops the handler) is still taken off the gauge.
struct InFlight<'a>(&'a Stats);

impl<'a> InFlight<'a> {
    fn enter(s: &'a Stats) -> Self {
        let now = s.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        s.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        Self(s)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, st: web::Data<AppState>) -> HttpResponse {
    // A `Route` used as the default service does not apply its method guard: check here.
    if req.method() != actix_web::http::Method::POST {
        return HttpResponse::NotFound().finish();
    }
    let now = now_us();
    let s = &st.stats;
    let _in_flight = InFlight::enter(s);
    s.count.fetch_add(1, Ordering::Relaxed);
    s.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
    let _ = s
        .first_at_us
        .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    s.last_at_us.fetch_max(now, Ordering::Relaxed);
    let headers = req.headers();
    if headers.contains_key("webhook-signature") {
        s.signed.fetch_add(1, Ordering::Relaxed);
    }
    let attempt = headers
        .get("x-courier-attempt")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    if attempt.is_some_and(|a| a > 1) {
        s.retried.fetch_add(1, Ordering::Relaxed);
    }

    let settings = &st.settings;
    if settings.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(settings.delay_ms)).await;
    }
    if settings.fail_rate > 0.0 {
        let n = st.seq.fetch_add(1, Ordering::Relaxed);
        if unit_hash(n) < settings.fail_rate {
            s.failed.fetch_add(1, Ordering::Relaxed);
            return HttpResponse::InternalServerError().body("injected failure");
        }
    }
    s.ok.fetch_add(1, Ordering::Relaxed);
    if settings.track_ids
        && let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok())
    {
        s.saw(id);
    }
    if let Some(sent) = find_sent_at_us(&body) {
        // Latency is measured when the answer is decided (after any injected delay).
        s.latency.record(now_us().saturating_sub(sent));
    }
    HttpResponse::build(StatusCode::from_u16(settings.status).unwrap_or(StatusCode::OK)).finish()
}

async fn stats(st: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(st.stats.snapshot())
}

async fn reset(st: web::Data<AppState>) -> HttpResponse {
    let (count, ok) = st.stats.take_counts();
    st.stats.reset();
    st.seq.store(0, Ordering::Relaxed);
    HttpResponse::Ok()
        .json(serde_json::json!({"reset": true, "count_before": count, "ok_before": ok}))
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("courier-sink: {e}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "courier-sink listening on {} ({} workers, fail_rate {}, delay {} ms, status {})",
        settings.bind, settings.workers, settings.fail_rate, settings.delay_ms, settings.status
    );
    let bind = settings.bind.clone();
    let workers = settings.workers;
    let state = web::Data::new(AppState {
        settings,
        stats: Stats::default(),
        seq: AtomicU64::new(0),
    });
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(8 * 1024 * 1024))
            .route("/stats", web::get().to(stats))
            .route("/reset", web::post().to(reset))
            .route("/health", web::get().to(health))
            .default_service(web::post().to(receive))
    })
    .workers(workers)
    .backlog(4096)
    .max_connection_rate(4096)
    .bind(bind)?
    .run()
    .await
}
