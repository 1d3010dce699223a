//! The recording receiver, listening inside the infrastructure namespace. For every request
//! it keeps when it arrived, from which address (each node has its own, so this says which
//! node sent it), the delivery id, attempt number and message id, and which subscription the
//! path names (`/s/<index>`). It answers 200 after a short, id-derived delay, so some
//! attempts are always in flight.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{DateTime, Utc};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: DateTime<Utc>,
    pub from: IpAddr,
    pub delivery_id: String,
    pub attempt: u32,
    pub subscription: usize,
}

#[derive(Clone, Default)]
pub struct Receiver {
    log: Arc<Mutex<Vec<Arrival>>>,
    /// Most milliseconds an answer is held.
    max_delay_ms: u64,
}

async fn receive(req: HttpRequest, _body: web::Bytes, rx: web::Data<Receiver>) -> HttpResponse {
    let at = Utc::now();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let delivery_id = header("x-courier-delivery-id");
    let arrival = Arrival {
        at,
        from: req
            .peer_addr()
            .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip()),
        attempt: header("x-courier-attempt").parse().unwrap_or(0),
        subscription: req
            .path()
            .strip_prefix("/s/")
            .and_then(|s| s.parse().ok())
            .unwrap_or(usize::MAX),
        delivery_id,
    };
    let h = arrival
        .delivery_id
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    if let Ok(mut log) = rx.log.lock() {
        log.push(arrival);
    }
    if rx.max_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(h % rx.max_delay_ms)).await;
    }
    HttpResponse::Ok().body("ok")
}

impl Receiver {
    pub fn new(max_delay_ms: u64) -> Self {
        Self {
            log: Arc::default(),
            max_delay_ms,
        }
    }

    /// Serves on `listener`; returns the base URL (subscriptions add `/s/<index>`).
    pub fn serve(&self, listener: TcpListener) -> String {
        let addr = listener.local_addr().expect("bound");
        let data = web::Data::new(self.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .expect("receiver listens");
        actix_web::rt::spawn(server.run());
        format!("http://{addr}")
    }

    /// How many requests have arrived so far (a mark to read from later).
    pub fn mark(&self) -> usize {
        self.log.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Every arrival from `mark` on.
    pub fn since(&self, mark: usize) -> Vec<Arrival> {
        self.log
            .lock()
            .map(|l| l.get(mark..).unwrap_or(&[]).to_vec())
            .unwrap_or_default()
    }

    /// Delivery ids seen (any time).
    pub fn delivered(&self) -> HashSet<String> {
        self.log
            .lock()
            .map(|l| l.iter().map(|a| a.delivery_id.clone()).collect())
            .unwrap_or_default()
    }

    /// Waits until every id in `expected` arrived; returns those still missing.
    pub async fn wait_for(&self, expected: &HashSet<String>, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.delivered();
            let missing: Vec<String> = expected.difference(&seen).cloned().collect();
            if missing.is_empty() || Instant::now() >= deadline {
                return missing;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Arrivals grouped by delivery id, in arrival order.
pub fn by_delivery(arrivals: &[Arrival]) -> HashMap<&str, Vec<&Arrival>> {
    let mut out: HashMap<&str, Vec<&Arrival>> = HashMap::new();
    for a in arrivals {
        out.entry(a.delivery_id.as_str()).or_default().push(a);
    }
    out
}
