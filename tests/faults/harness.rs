//! The fault suite's parts: the `courier` binary as a child process (so it can be killed
//! with SIGKILL or stopped with SIGTERM), a private `redis-server`, a private Postgres
//! cluster, a recording receiver, and a loader that ingests under load and keeps the ids of
//! every message that was answered 202.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

pub const API_KEY: &str = "fault-suite-api-key-0123456789";

pub fn db_server() -> String {
    std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn log_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("faults");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Appends a line to the suite's report (`target/tmp/faults/report.txt`) and prints it.
pub fn report(line: &str) {
    use std::io::Write;
    println!("{line}");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_dir().join("report.txt"))
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The `courier` binary, run with its own environment; restartable with the same one.
pub struct Courier {
    pub port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
    log: PathBuf,
}

impl Courier {
    pub fn new(database_url: &str, redis_url: &str, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let prefix = format!("{}:", unique("courier_test"));
        let mut env: Vec<(String, String)> = [
            ("COURIER_BIND", format!("127.0.0.1:{port}")),
            ("DATABASE_URL", database_url.to_owned()),
            ("REDIS_URL", redis_url.to_owned()),
            ("COURIER_REDIS_PREFIX", prefix),
            ("COURIER_API_KEY", API_KEY.to_owned()),
            ("COURIER_ALLOW_PRIVATE_TARGETS", "true".to_owned()),
            ("COURIER_NODE_ID", unique("node")),
            (
                "COURIER_RETRY_SCHEDULE",
                "100ms,200ms,400ms,800ms,1s,2s,2s,2s".to_owned(),
            ),
            ("COURIER_SWEEP_INTERVAL", "300ms".to_owned()),
            ("COURIER_DELIVERY_TIMEOUT", "1s".to_owned()),
            ("COURIER_WORKERS", "2".to_owned()),
            (
                "RUST_LOG",
                std::env::var("FAULTS_RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            env.retain(|(ek, _)| ek != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        let log = log_dir().join(format!("{}.log", unique("courier")));
        Self {
            port,
            env,
            child: None,
            log,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process and waits until `/health` answers.
    pub async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_courier"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("courier starts");
        self.child = Some(child);
        let client = awc::Client::default();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/health", self.base())).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("courier did not start; log: {}", self.log_text());
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit code.
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory of the process, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

impl Drop for Courier {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A database of its own on the shared server, dropped at the end.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn new() -> Self {
        Self {
            name: unique("courier_test_fault"),
        }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", db_server(), self.name)
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.url())
            .await
            .expect("test database connects")
    }

    /// Terminates every connection to this database (what a Postgres restart does to them).
    pub async fn terminate_connections(&self) -> i64 {
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", db_server()))
            .await
            .expect("admin");
        sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.name)
        .fetch_one(&mut admin)
        .await
        .expect("terminate")
    }
}

use sqlx::Connection as _;

/// A `redis-server` of the test's own, on its own port, that can be restarted or flushed.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let mut r = Self {
            port: free_port(),
            child: None,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        for _ in 0..100 {
            if self.cli(&["PING"]).trim() == "PONG" {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("private redis did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn cli(&self, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Kills the server (its data is gone: it keeps nothing on disk) and starts a new one.
    pub fn restart(&mut self, down_for: Duration) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        std::thread::sleep(down_for);
        self.spawn();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What the receiver saw: per message id (`webhook-id`), how many times it arrived.
#[derive(Clone, Default)]
pub struct Receiver {
    seen: Arc<Mutex<HashMap<String, u32>>>,
    /// Percent of first attempts answered 500 (they are retried).
    pub fail_first_percent: u64,
    /// Most milliseconds an answer is delayed (a uniform share of it per request).
    pub max_delay_ms: u64,
}

async fn receive(req: HttpRequest, _body: web::Bytes, rx: web::Data<Receiver>) -> HttpResponse {
    let id = req
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let attempt = req
        .headers()
        .get("x-courier-attempt")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("1")
        .to_owned();
    let h = id
        .bytes()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    if rx.max_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(h % rx.max_delay_ms)).await;
    }
    if attempt == "1" && h % 100 < rx.fail_first_percent {
        return HttpResponse::InternalServerError().body("first attempts fail here");
    }
    if let Ok(mut seen) = rx.seen.lock() {
        *seen.entry(id).or_default() += 1;
    }
    HttpResponse::Ok().body("ok")
}

impl Receiver {
    pub fn new(fail_first_percent: u64, max_delay_ms: u64) -> Self {
        Self {
            seen: Arc::default(),
            fail_first_percent,
            max_delay_ms,
        }
    }

    /// Serves on 127.0.0.1; returns the URL deliveries should go to.
    pub fn serve(&self) -> String {
        let data = web::Data::new(self.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("receiver binds");
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        format!("http://127.0.0.1:{port}/hook")
    }

    pub fn counts(&self) -> HashMap<String, u32> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until every id in `expected` has arrived; returns the ids still missing.
    pub async fn wait_for(&self, expected: &HashSet<String>, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.counts();
            let missing: Vec<String> = expected
                .iter()
                .filter(|id| !seen.contains_key(*id))
                .cloned()
                .collect();
            if missing.is_empty() || Instant::now() >= deadline {
                return missing;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What a load run produced.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Message ids answered 202.
    pub accepted: HashSet<String>,
    /// Answers 503 (each retried by the loader).
    pub unavailable: u64,
    /// Connection errors (the server was down; retried).
    pub refused: u64,
    /// Anything else: a 5xx other than 503, or a 4xx. Must stay zero.
    pub unexpected: Vec<String>,
}

/// Creates a subscription to `target` and returns its id.
pub async fn create_subscription(base: &str, target: &str) -> String {
    let client = awc::Client::default();
    let mut r = client
        .post(format!("{base}/subscriptions"))
        .insert_header(("Authorization", format!("Bearer {API_KEY}")))
        .send_json(&json!({"target_url": target, "max_in_flight": 32}))
        .await
        .expect("create reaches the server");
    let body: Value = r.json().await.expect("json");
    body["id"].as_str().expect("id").to_owned()
}

/// Ingests `count` messages to `subscription` with `concurrency` clients; every request is
/// retried until it is answered 202 (a client of a real webhook service does the same).
pub async fn ingest(
    base: String,
    subscription: String,
    count: usize,
    concurrency: usize,
) -> LoadResult {
    let result = Arc::new(Mutex::new(LoadResult::default()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (result, next, base, sub) = (
            result.clone(),
            next.clone(),
            base.clone(),
            subscription.clone(),
        );
        tasks.push(actix_web::rt::spawn(async move {
            let client = awc::Client::builder()
                .timeout(Duration::from_secs(10))
                .finish();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= count {
                    return;
                }
                send_one(&client, &base, &sub, i, &result).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Arc::try_unwrap(result)
        .ok()
        .and_then(|m| m.into_inner().ok())
        .unwrap_or_default()
}

async fn send_one(
    client: &awc::Client,
    base: &str,
    sub: &str,
    i: usize,
    result: &Mutex<LoadResult>,
) {
    let body =
        json!({"seq": i, "sent_at": chrono::Utc::now().to_rfc3339(), "pad": "x".repeat(200)});
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let sent = client
            .post(format!("{base}/ingest/{sub}?event_type=fault.test"))
            .insert_header(("Authorization", format!("Bearer {API_KEY}")))
            .send_json(&body)
            .await;
        match sent {
            Ok(mut r) if r.status().as_u16() == 202 => {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                if let (Some(id), Ok(mut res)) = (v["message_id"].as_str(), result.lock()) {
                    res.accepted.insert(id.to_owned());
                }
                return;
            }
            Ok(r) if r.status().as_u16() == 503 => {
                if let Ok(mut res) = result.lock() {
                    res.unavailable += 1;
                }
            }
            Ok(mut r) => {
                let status = r.status();
                let text = r
                    .body()
                    .await
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                if let Ok(mut res) = result.lock() {
                    res.unexpected.push(format!("{status}: {text}"));
                }
                return;
            }
            Err(_) => {
                if let Ok(mut res) = result.lock() {
                    res.refused += 1;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Duplicates: arrivals beyond the first, over all messages.
pub fn duplicates(counts: &HashMap<String, u32>) -> u32 {
    counts.values().map(|n| n.saturating_sub(1)).sum()
}
