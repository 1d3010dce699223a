//! A programmable webhook receiver: a real actix-web server on 127.0.0.1:0 that records every
//! request it gets (arrival time, path, headers, body) and answers as the test tells it to —
//! a fixed status, a script of answers then a default, `Retry-After`, a stall, a huge body.
//! It also counts requests in progress, so tests can check a concurrency limit.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The headers as an `http` 1.x map, for the Standard Webhooks reference verifier.
    pub fn header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in &self.headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                http::HeaderValue::from_str(v).expect("header value"),
            );
        }
        map
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub stall: Duration,
    pub body_len: usize,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            stall: Duration::ZERO,
            body_len: 0,
        }
    }

    pub fn retry_after(status: u16, secs: u64) -> Self {
        Self {
            retry_after: Some(secs),
            ..Self::status(status)
        }
    }

    /// Waits `ms` before answering `status`.
    pub fn stall(ms: u64, status: u16) -> Self {
        Self {
            stall: Duration::from_millis(ms),
            ..Self::status(status)
        }
    }

    /// Answers `status` with a body of `len` bytes.
    pub fn huge(status: u16, len: usize) -> Self {
        Self {
            body_len: len,
            ..Self::status(status)
        }
    }
}

/// What the receiver does: the script first, in order, then the default for ever.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub script: VecDeque<Reply>,
    pub default: Reply,
    /// Answer 500 to about this percentage of requests (a fixed pseudo-random sequence).
    pub flaky_percent: u32,
}

impl Behaviour {
    pub fn always(reply: Reply) -> Self {
        Self {
            script: VecDeque::new(),
            default: reply,
            flaky_percent: 0,
        }
    }

    /// `reply`, except about `percent` % of requests, which get 500 at once.
    pub fn flaky(percent: u32, reply: Reply) -> Self {
        Self {
            flaky_percent: percent,
            ..Self::always(reply)
        }
    }

    /// Answers these statuses in order, then `default`.
    pub fn script(statuses: &[u16], default: u16) -> Self {
        Self {
            script: statuses.iter().map(|s| Reply::status(*s)).collect(),
            default: Reply::status(default),
            flaky_percent: 0,
        }
    }
}

struct Shared {
    requests: Mutex<Vec<Received>>,
    behaviour: Mutex<Behaviour>,
    in_progress: AtomicUsize,
    max_in_progress: AtomicUsize,
}

#[derive(Clone)]
pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
}

impl Receiver {
    /// Starts a receiver answering 200 to everything.
    pub async fn start() -> Self {
        Self::start_with(Behaviour::always(Reply::status(200))).await
    }

    pub async fn start_with(behaviour: Behaviour) -> Self {
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            behaviour: Mutex::new(behaviour),
            in_progress: AtomicUsize::new(0),
            max_in_progress: AtomicUsize::new(0),
        });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(16 << 20))
                .default_service(web::to(handle))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("receiver binds");
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Self { port, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().expect("lock") = behaviour;
    }

    pub fn requests(&self) -> Vec<Received> {
        self.shared.requests.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.shared.requests.lock().expect("lock").len()
    }

    /// The most requests that were ever being answered at the same time.
    pub fn max_concurrent(&self) -> usize {
        self.shared.max_in_progress.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests arrived; returns them all. Panics after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "receiver got {} requests within {timeout:?}, expected {n}",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Counts a request in progress until it is answered or dropped (a client that timed out).
struct InProgress(Arc<Shared>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let now = shared.in_progress.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_progress.fetch_max(now, Ordering::SeqCst);
    let guard = InProgress(shared.clone().into_inner());
    shared.requests.lock().expect("lock").push(Received {
        at: Instant::now(),
        path: req.path().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    });
    let reply = {
        let mut b = shared.behaviour.lock().expect("lock");
        let default = b.default.clone();
        let n = shared.requests.lock().expect("lock").len() as u64;
        let roll = n
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407)
            >> 33;
        if b.flaky_percent > 0 && (roll % 100) < u64::from(b.flaky_percent) {
            Reply::status(500)
        } else {
            b.script.pop_front().unwrap_or(default)
        }
    };
    if !reply.stall.is_zero() {
        actix_web::rt::time::sleep(reply.stall).await;
    }
    drop(guard);
    let status = actix_web::http::StatusCode::from_u16(reply.status).expect("valid status");
    let mut resp = HttpResponse::build(status);
    if let Some(secs) = reply.retry_after {
        resp.insert_header(("Retry-After", secs.to_string()));
    }
    if reply.body_len > 0 {
        resp.body(vec![b'x'; reply.body_len])
    } else {
        resp.body("ok")
    }
}

/// A port on 127.0.0.1 that nothing listens on (bound, then closed).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
