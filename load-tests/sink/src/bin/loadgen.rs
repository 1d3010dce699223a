//! `loadgen`: a light HTTP load generator for Courier's ceilings.
//!
//! k6 tops out around 5–10k req/s on two shared cores (docs/benchmarks.md); this tool uses a
//! minimal keep-alive HTTP/1.1 client on single-threaded tokio runtimes and costs far less per
//! request. Plain `http://` only: every load-test target is on 127.0.0.1.
//!
//! - Closed loop: `--connections N` workers each send, wait for the answer, send again, for
//!   `--duration`.
//! - Open loop: `--rate R` requests per second on a fixed schedule, whatever the answers do;
//!   `--connections` caps requests in flight, and a request that would exceed it is counted as
//!   `dropped` (like k6's dropped iterations). Latency is measured from the *scheduled* send
//!   time, so a stalled server is not hidden (no coordinated omission).
//!
//! Each body is a ~1 KiB invoice-like JSON event carrying `sent_at_us` (epoch µs) so the sink
//! can measure end-to-end latency through Courier. `--event-type T` wraps it as
//! `{"event_type": T, "payload": {...}}` for `POST /events`.
//!
//! Prints a human summary on stderr and, with `--json`, one JSON object on stdout.

use std::cell::{Cell, RefCell};
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use courier_sink::{Histogram, Payload, now_us, parse_duration};
use tokio::net::TcpStream;

const USAGE: &str = "\
usage: loadgen --url URL [--url URL2 ...] [options]
  --mode closed|open        closed loop (default) or open loop at --rate
  --connections N           closed: concurrent workers; open: max in flight (default 64)
  --rate R                  open loop: requests per second (required for open)
  --duration D              how long to send, e.g. 15s, 2m (default 15s)
  --warmup D                leading period excluded from the figures (default 0s)
  --threads T               sender threads, each with its own runtime (default 1)
  --body-size B             body size in bytes (default 1024)
  --event-type T            wrap the body as {\"event_type\":T,\"payload\":{..}} (for POST /events)
  --header 'K: V'           extra header, repeatable (e.g. 'Authorization: Bearer KEY')
  --timeout D               per-request timeout (default 10s)
  --json                    print a JSON summary on stdout
Several --url values are used round-robin; URLs on one host:port share keep-alive
connections. Only http:// targets.";

#[derive(Clone, Debug)]
struct Opts {
    urls: Vec<String>,
    open: bool,
    connections: usize,
    rate: f64,
    duration: Duration,
    warmup: Duration,
    threads: usize,
    body_size: usize,
    event_type: Option<String>,
    /// Extra header lines, each `Name: value`.
    headers: Vec<String>,
    timeout: Duration,
    json: bool,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        urls: vec![],
        open: false,
        connections: 64,
        rate: 0.0,
        duration: Duration::from_secs(15),
        warmup: Duration::ZERO,
        threads: 1,
        body_size: 1024,
        event_type: None,
        headers: vec![],
        timeout: Duration::from_secs(10),
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--json" => {
                o.json = true;
                continue;
            }
            _ => {}
        }
        let val = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let dur =
            |v: &str| parse_duration(v).ok_or_else(|| format!("bad duration for {flag}: {v}"));
        let num_err = |e: &dyn std::fmt::Display| format!("bad number for {flag}: {val} ({e})");
        match flag.as_str() {
            "--url" => o.urls.push(val.clone()),
            "--mode" => {
                o.open = match val.as_str() {
                    "open" => true,
                    "closed" => false,
                    _ => return Err(format!("--mode must be open or closed, got {val}")),
                }
            }
            "--connections" | "-c" => o.connections = val.parse().map_err(|e| num_err(&e))?,
            "--rate" | "-r" => o.rate = val.parse().map_err(|e| num_err(&e))?,
            "--duration" | "-d" => o.duration = dur(&val)?,
            "--warmup" => o.warmup = dur(&val)?,
            "--threads" | "-t" => o.threads = val.parse().map_err(|e| num_err(&e))?,
            "--body-size" => o.body_size = val.parse().map_err(|e| num_err(&e))?,
            "--event-type" => o.event_type = Some(val.clone()),
            "--timeout" => o.timeout = dur(&val)?,
            "--header" | "-H" => {
                let (k, v) = val
                    .split_once(':')
                    .ok_or_else(|| format!("bad header {val}"))?;
                let (k, v) = (k.trim(), v.trim());
                if k.is_empty() || k.contains(char::is_whitespace) || v.contains(['\r', '\n']) {
                    return Err(format!("bad header {val}"));
                }
                o.headers.push(format!("{k}: {v}"));
            }
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if o.urls.is_empty() {
        return Err(format!("--url is required\n{USAGE}"));
    }
    if o.open && o.rate <= 0.0 {
        return Err("--mode open needs --rate > 0".into());
    }
    if o.duration.is_zero() {
        return Err("--duration must be > 0".into());
    }
    o.threads = o.threads.max(1);
    o.connections = o.connections.max(o.threads);
    Ok(o)
}

/// A parsed `http://host:port/path?query` target.
#[derive(Clone, Debug)]
struct Target {
    addr: SocketAddr,
    host_header: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let has_port = !authority.ends_with(']')
            && authority
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        let with_port = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{url}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: no address"))?;
        Ok(Self {
            addr,
            host_header: authority.to_string(),
            path: path.to_string(),
        })
    }
}

/// One keep-alive HTTP/1.1 connection.
///
/// A hand-written client keeps the generator cheap (no TLS stack, no pool bookkeeping) and
/// needs only tokio's `net` feature (`try_read`/`try_write` after `readable`/`writable`).
/// It understands `Content-Length`, chunked and close-delimited answers.
struct Conn {
    stream: TcpStream,
    /// The server this connection is open to: URLs on the same `host:port` share connections,
    /// so many `--url`s (e.g. one per subscription) do not multiply the connection count.
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Conn {
    async fn connect(t: &Target) -> std::io::Result<Self> {
        let stream = TcpStream::connect(t.addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            addr: t.addr,
            buf: Vec::with_capacity(4096),
        })
    }

    async fn write_all(&self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(data) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads more bytes into `buf`; `Ok(false)` on EOF.
    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 8192];
        loop {
            self.stream.readable().await?;
            match self.stream.try_read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    async fn fill_or_eof(&mut self) -> std::io::Result<()> {
        if self.fill().await? {
            Ok(())
        } else {
            Err(std::io::ErrorKind::UnexpectedEof.into())
        }
    }

    /// Sends a request and reads the whole answer; returns its status and whether the
    /// connection can be reused.
    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<(u16, bool)> {
        self.write_all(request).await?;
        self.buf.clear();
        let header_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill_or_eof().await?;
        };
        let head_text = String::from_utf8_lossy(&self.buf[..header_end]).to_ascii_lowercase();
        let status: u16 = head_text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other("bad status line"))?;
        let header = |name: &str| {
            head_text.lines().skip(1).find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.trim() == name)
                    .map(|(_, v)| v.trim().to_string())
            })
        };
        let keep_alive = header("connection").is_none_or(|v| v != "close");
        if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            // Read until the terminating zero-size chunk and its blank line.
            loop {
                let body = &self.buf[header_end..];
                if body.starts_with(b"0\r\n\r\n") || find(body, b"\r\n0\r\n\r\n").is_some() {
                    return Ok((status, keep_alive));
                }
                self.fill_or_eof().await?;
            }
        }
        let len = match header("content-length") {
            Some(v) => v.parse::<usize>().map_err(std::io::Error::other)?,
            None if status == 204 || status == 304 || status < 200 => 0,
            None => {
                // Body delimited by close: read to EOF; the connection is done.
                while self.fill().await? {}
                return Ok((status, false));
            }
        };
        while self.buf.len() < header_end + len {
            self.fill_or_eof().await?;
        }
        Ok((status, keep_alive))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Totals shared by the sender threads.
#[derive(Default)]
struct Totals {
    /// Every request sent, warm-up included.
    sent: AtomicU64,
    /// Requests scheduled after the warm-up (the ones the figures describe).
    measured_sent: AtomicU64,
    /// Every 2xx answer, warm-up included (what a receiver behind the target will get).
    ok_total: AtomicU64,
    ok: AtomicU64,
    non2xx: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    latency: Histogram,
}

struct Shared {
    opts: Opts,
    targets: Vec<Target>,
    /// `--header` lines, rendered once (`Name: value\r\n` each).
    extra_headers: String,
    payload: Payload,
    totals: Totals,
    seq: AtomicU64,
    start: Instant,
    start_wall_us: u64,
    measure_from: Instant,
    end: Instant,
    first_error: std::sync::Mutex<Option<String>>,
}

/// Per-thread idle connections, reused across requests (single-threaded, so a `RefCell`).
#[derive(Default)]
struct Local {
    idle: RefCell<Vec<Conn>>,
}

/// Sends one request and records its outcome. `scheduled` is when it should have left.
async fn one(local: &Local, sh: &Shared, scheduled: Instant) {
    let seq = sh.seq.fetch_add(1, Ordering::Relaxed);
    let sent_at =
        sh.start_wall_us + scheduled.saturating_duration_since(sh.start).as_micros() as u64;
    let body = sh.payload.render(sent_at, seq);
    let ti = (seq as usize) % sh.targets.len();
    let t = &sh.targets[ti];
    // Head and body in one buffer: one write, one segment for a 1 KiB event.
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
        t.path,
        t.host_header,
        body.len(),
        sh.extra_headers
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let measured = scheduled >= sh.measure_from;
    sh.totals.sent.fetch_add(1, Ordering::Relaxed);
    if measured {
        sh.totals.measured_sent.fetch_add(1, Ordering::Relaxed);
    }
    let reused = {
        let mut idle = local.idle.borrow_mut();
        idle.iter()
            .position(|c| c.addr == t.addr)
            .map(|i| idle.swap_remove(i))
    };
    let attempt = async {
        let (mut conn, was_idle) = match reused {
            Some(c) => (c, true),
            None => (Conn::connect(t).await?, false),
        };
        let (status, keep) = match conn.exchange(&request).await {
            Ok(r) => r,
            // The server may close an idle keep-alive connection (actix: after 5 s) just as we
            // reuse it. If nothing came back, the request was not processed: resend it once
            // on a fresh connection, as HTTP clients do for idempotent retries of stale sockets.
            Err(_) if was_idle && conn.buf.is_empty() => {
                conn = Conn::connect(t).await?;
                conn.exchange(&request).await?
            }
            Err(e) => return Err(e),
        };
        if keep {
            local.idle.borrow_mut().push(conn);
        }
        Ok::<u16, std::io::Error>(status)
    };
    let outcome = match tokio::time::timeout(sh.opts.timeout, attempt).await {
        Ok(Ok(status)) if (200..300).contains(&status) => Ok(()),
        Ok(Ok(status)) => Err(format!("HTTP {status}")),
        Ok(Err(e)) => Err(format!("error: {e}")),
        Err(_) => Err("error: timeout".to_string()),
    };
    if outcome.is_ok() {
        sh.totals.ok_total.fetch_add(1, Ordering::Relaxed);
    }
    if !measured {
        return;
    }
    match outcome {
        Ok(()) => {
            sh.totals.ok.fetch_add(1, Ordering::Relaxed);
            sh.totals
                .latency
                .record(scheduled.elapsed().as_micros() as u64);
        }
        Err(e) => {
            if e.starts_with("HTTP") {
                sh.totals.non2xx.fetch_add(1, Ordering::Relaxed);
            } else {
                sh.totals.errors.fetch_add(1, Ordering::Relaxed);
            }
            let mut first = sh.first_error.lock().unwrap();
            if first.is_none() {
                *first = Some(e);
            }
        }
    }
}

/// One sender thread: its own single-threaded tokio runtime and connections.
fn run_thread(sh: Arc<Shared>, index: usize) {
    let o = &sh.opts;
    let conns = o.connections / o.threads + usize::from(index < o.connections % o.threads);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let set = tokio::task::LocalSet::new();
    set.block_on(&rt, async move {
        let local = Rc::new(Local::default());
        tokio::time::sleep_until(sh.start.into()).await;
        if !sh.opts.open {
            let mut tasks = Vec::with_capacity(conns);
            for _ in 0..conns {
                let (local, sh) = (local.clone(), sh.clone());
                tasks.push(tokio::task::spawn_local(async move {
                    while Instant::now() < sh.end {
                        one(&local, &sh, Instant::now()).await;
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            return;
        }
        // Open loop: this thread's share of the rate, on a fixed schedule. Timers have 1 ms
        // resolution, so each wake-up issues every request that has fallen due.
        let rate = sh.opts.rate / sh.opts.threads as f64;
        let interval = Duration::from_secs_f64(1.0 / rate);
        let offset = interval.mul_f64(index as f64 / sh.opts.threads as f64);
        let in_flight = Rc::new(Cell::new(0usize));
        let mut i: u64 = 0;
        loop {
            let due = sh.start + offset + interval.mul_f64(i as f64);
            if due >= sh.end {
                break;
            }
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
            i += 1;
            if in_flight.get() >= conns {
                if due >= sh.measure_from {
                    sh.totals.dropped.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            in_flight.set(in_flight.get() + 1);
            let (local, sh, in_flight) = (local.clone(), sh.clone(), in_flight.clone());
            tokio::task::spawn_local(async move {
                one(&local, &sh, due).await;
                in_flight.set(in_flight.get() - 1);
            });
        }
        // Let the requests still in flight finish (bounded by the request timeout).
        let deadline = Instant::now() + sh.opts.timeout + Duration::from_secs(1);
        while in_flight.get() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let targets = match opts
        .urls
        .iter()
        .map(|u| Target::parse(u))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let extra_headers: String = opts.headers.iter().map(|h| format!("{h}\r\n")).collect();
    let start = Instant::now() + Duration::from_millis(50);
    let start_wall_us = now_us() + 50_000;
    let sh = Arc::new(Shared {
        payload: Payload::new(opts.body_size, opts.event_type.as_deref()),
        totals: Totals::default(),
        seq: AtomicU64::new(0),
        start,
        start_wall_us,
        measure_from: start + opts.warmup,
        end: start + opts.warmup + opts.duration,
        first_error: std::sync::Mutex::new(None),
        targets,
        extra_headers,
        opts,
    });
    let handles: Vec<_> = (0..sh.opts.threads)
        .map(|i| {
            let sh = sh.clone();
            std::thread::spawn(move || run_thread(sh, i))
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let measured_s = sh.opts.duration.as_secs_f64();
    let t = &sh.totals;
    let ok = t.ok.load(Ordering::Relaxed);
    let ms = |us: u64| us as f64 / 1000.0;
    let summary = serde_json::json!({
        "mode": if sh.opts.open { "open" } else { "closed" },
        "urls": sh.opts.urls,
        "connections": sh.opts.connections,
        "threads": sh.opts.threads,
        "target_rate": sh.opts.rate,
        "duration_s": measured_s,
        "warmup_s": sh.opts.warmup.as_secs_f64(),
        "body_bytes": sh.payload.render(now_us(), 0).len(),
        "sent": t.measured_sent.load(Ordering::Relaxed),
        "sent_total": t.sent.load(Ordering::Relaxed),
        "ok": ok,
        "ok_total": t.ok_total.load(Ordering::Relaxed),
        "non2xx": t.non2xx.load(Ordering::Relaxed),
        "errors": t.errors.load(Ordering::Relaxed),
        "dropped": t.dropped.load(Ordering::Relaxed),
        "ok_per_s": ((ok as f64 / measured_s) * 10.0).round() / 10.0,
        "p50_ms": ms(t.latency.quantile(0.50)),
        "p95_ms": ms(t.latency.quantile(0.95)),
        "p99_ms": ms(t.latency.quantile(0.99)),
        "max_ms": ms(t.latency.max()),
        "first_error": *sh.first_error.lock().unwrap(),
    });
    eprintln!(
        "loadgen {} {} conns x {} threads, {:.0}s: {} ok ({}/s), {} non-2xx, {} errors, {} dropped; latency p50 {} ms, p95 {} ms, p99 {} ms, max {} ms{}",
        summary["mode"].as_str().unwrap_or(""),
        sh.opts.connections,
        sh.opts.threads,
        measured_s,
        ok,
        summary["ok_per_s"],
        summary["non2xx"],
        summary["errors"],
        summary["dropped"],
        summary["p50_ms"],
        summary["p95_ms"],
        summary["p99_ms"],
        summary["max_ms"],
        match summary["first_error"].as_str() {
            Some(e) => format!(" (first error: {e})"),
            None => String::new(),
        }
    );
    if sh.opts.json {
        println!("{summary}");
    }
}
