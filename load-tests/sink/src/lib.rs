//! Load-test tools for Courier.
//!
//! Two binaries share this small library:
//!
//! - `courier-sink` (`src/main.rs`): a receiver that answers every `POST` fast, counts
//!   deliveries and, when the body carries `"sent_at_us": <epoch µs>`, records the end-to-end
//!   latency (producer → Courier → sink) in a [`Histogram`].
//! - `loadgen` (`src/bin/loadgen.rs`): a closed- or open-loop HTTP generator that posts a
//!   1 KiB invoice-like JSON body stamped with `sent_at_us` (see [`Payload`]).
//!
//! Nothing here needs a crate beyond the workspace's own: the histogram is a small log-linear
//! (HDR-like) one written for this purpose.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, the unit of `sent_at_us`.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Values below this are stored exactly (one bucket per microsecond).
const LINEAR: u64 = 128;
/// Sub-buckets per power of two above [`LINEAR`]: relative error ≤ 1/64 ≈ 1.6 %.
const SUB: u64 = 64;
/// Largest shift kept; values above `2^(MAX_SHIFT + 6)` µs (≈ 12.7 days) are clamped.
const MAX_SHIFT: u64 = 34;
/// Total number of buckets.
const BUCKETS: usize = (LINEAR + MAX_SHIFT * SUB) as usize;

/// A lock-free log-linear histogram of microsecond values.
///
/// Exact below 128 µs, then 64 sub-buckets per power of two, so a percentile is within ~1.6 %
/// of the true value. Every counter is an atomic, so the sink's workers share one instance
/// without a lock; `Relaxed` ordering is enough because readers only need eventually
/// consistent totals.
pub struct Histogram {
    counts: Box<[AtomicU64]>,
    total: AtomicU64,
    max: AtomicU64,
    min: AtomicU64,
    sum: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            max: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            sum: AtomicU64::new(0),
        }
    }

    /// Bucket index of a value in µs.
    fn index(v: u64) -> usize {
        if v < LINEAR {
            return v as usize;
        }
        let msb = 63 - u64::from(v.leading_zeros());
        let shift = (msb - 6).min(MAX_SHIFT);
        let sub = (v >> shift).min(2 * SUB - 1) - SUB;
        (LINEAR + (shift - 1) * SUB + sub) as usize
    }

    /// Representative value (middle of the bucket) of an index, in µs.
    fn value_at(i: usize) -> u64 {
        let i = i as u64;
        if i < LINEAR {
            return i;
        }
        let shift = (i - LINEAR) / SUB + 1;
        let lower = ((i - LINEAR) % SUB + SUB) << shift;
        lower + ((1u64 << shift) - 1) / 2
    }

    pub fn record(&self, v_us: u64) {
        self.counts[Self::index(v_us)].fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(v_us, Ordering::Relaxed);
        self.max.fetch_max(v_us, Ordering::Relaxed);
        self.min.fetch_min(v_us, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    pub fn min(&self) -> u64 {
        match self.min.load(Ordering::Relaxed) {
            u64::MAX => 0,
            m => m,
        }
    }

    pub fn mean(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            n => self.sum.load(Ordering::Relaxed) as f64 / n as f64,
        }
    }

    /// The value at quantile `q` (0..=1), in µs; 0 when empty. Never above the recorded max.
    pub fn quantile(&self, q: f64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Ordering::Relaxed);
            if seen >= rank {
                return Self::value_at(i).min(self.max());
            }
        }
        self.max()
    }

    /// Adds every count of `other` into `self` (used to merge per-thread histograms).
    pub fn merge(&self, other: &Histogram) {
        for (a, b) in self.counts.iter().zip(other.counts.iter()) {
            a.fetch_add(b.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        self.total.fetch_add(other.count(), Ordering::Relaxed);
        self.sum
            .fetch_add(other.sum.load(Ordering::Relaxed), Ordering::Relaxed);
        self.max.fetch_max(other.max(), Ordering::Relaxed);
        self.min
            .fetch_min(other.min.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    pub fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
        self.total.store(0, Ordering::Relaxed);
        self.sum.store(0, Ordering::Relaxed);
        self.max.store(0, Ordering::Relaxed);
        self.min.store(u64::MAX, Ordering::Relaxed);
    }
}

/// Finds `"sent_at_us"` anywhere in a JSON body and parses the unsigned integer after it.
///
/// A byte scan rather than a full parse keeps the sink cheap (it must not be the bottleneck);
/// Courier forwards the producer's bytes unchanged, so the field arrives as the generator
/// wrote it. Whitespace around the colon is tolerated; a float (`1.7e15`) is accepted too.
pub fn find_sent_at_us(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"sent_at_us\"";
    let pos = body.windows(KEY.len()).position(|w| w == KEY)?;
    let mut rest = &body[pos + KEY.len()..];
    rest = trim_start(rest);
    rest = rest.strip_prefix(b":")?;
    rest = trim_start(rest);
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')))
        .unwrap_or(rest.len());
    let num = std::str::from_utf8(&rest[..end]).ok()?;
    num.parse::<u64>().ok().or_else(|| {
        num.parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
    })
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    s
}

/// A ~1 KiB invoice-like JSON event, stamped with `sent_at_us` and a sequence number.
///
/// The JSON is pre-rendered once; each request only formats two integers, so the generator
/// spends its CPU on HTTP, not on serialisation.
pub struct Payload {
    head: String,
    mid: String,
    tail: String,
}

impl Payload {
    /// `size` is the target body size in bytes (padding is added to the `notes` field);
    /// `event_type` wraps the body as `{"event_type": .., "payload": {..}}` for `POST /events`.
    pub fn new(size: usize, event_type: Option<&str>) -> Self {
        let items: Vec<String> = (1..=6)
            .map(|i| {
                format!(
                    r#"{{"sku":"SKU-{i:05}","description":"Widget model {i}","quantity":{q},"unit_price_cents":{p},"currency":"EUR"}}"#,
                    q = i * 2,
                    p = 1999 + i * 100
                )
            })
            .collect();
        let inner_head = r#"{"sent_at_us":"#.to_string();
        let inner_mid = r#","seq":"#.to_string();
        let inner_tail_base = format!(
            r#","invoice":{{"id":"inv_2026_000123","customer":{{"id":"cus_8f14e45f","name":"ACME GmbH","email":"billing@example.com","country":"DE"}},"lines":[{}],"total_cents":158220,"status":"open","notes":""#,
            items.join(",")
        );
        let (head, close) = match event_type {
            Some(t) => (
                format!(r#"{{"event_type":"{t}","payload":{inner_head}"#),
                r#""}}}"#,
            ),
            None => (inner_head, r#""}}"#),
        };
        // Two 16-digit integers are written per request: account for them in the padding.
        let fixed = head.len() + inner_mid.len() + inner_tail_base.len() + close.len() + 16 + 8;
        let pad = size.saturating_sub(fixed);
        let tail = format!("{inner_tail_base}{}{close}", "x".repeat(pad));
        Self {
            head,
            mid: inner_mid,
            tail,
        }
    }

    /// Renders the body for one request.
    pub fn render(&self, sent_at_us: u64, seq: u64) -> Vec<u8> {
        let mut s = String::with_capacity(self.head.len() + self.tail.len() + 48);
        s.push_str(&self.head);
        s.push_str(&sent_at_us.to_string());
        s.push_str(&self.mid);
        s.push_str(&seq.to_string());
        s.push_str(&self.tail);
        s.into_bytes()
    }
}

/// Parses `500ms`, `15s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in (0..2_000_000u64).step_by(7) {
            let i = Histogram::index(v);
            assert!(i >= last, "index not monotonic at {v}");
            last = i;
            let rep = Histogram::value_at(i);
            let err = (rep as f64 - v as f64).abs() / (v.max(1) as f64);
            assert!(err <= 0.016, "value {v} → bucket {i} rep {rep} err {err}");
        }
        assert!(Histogram::index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles() {
        let h = Histogram::new();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 - 5000.0).abs() / 5000.0 < 0.02, "p50 {p50}");
        assert!((p99 - 9900.0).abs() / 9900.0 < 0.02, "p99 {p99}");
        assert_eq!(h.max(), 10_000);
        assert_eq!(h.min(), 1);
        assert_eq!(h.quantile(1.0), 10_000);
        let g = Histogram::new();
        g.merge(&h);
        assert_eq!(g.count(), 10_000);
        h.reset();
        assert_eq!(h.count(), 0);
        assert_eq!(h.quantile(0.5), 0);
    }

    #[test]
    fn finds_sent_at() {
        assert_eq!(
            find_sent_at_us(br#"{"a":1,"sent_at_us":1700000000000001}"#),
            Some(1700000000000001)
        );
        assert_eq!(
            find_sent_at_us(br#"{"x":{"sent_at_us" : 42 ,"y":2}}"#),
            Some(42)
        );
        assert_eq!(find_sent_at_us(br#"{"sent_at_us":1.5e3}"#), Some(1500));
        assert_eq!(find_sent_at_us(br#"{"sent_at_us":"12"}"#), None);
        assert_eq!(find_sent_at_us(br#"{"other":12}"#), None);
    }

    #[test]
    fn payload_is_valid_json_of_the_requested_size() {
        for ev in [None, Some("bench.created")] {
            let p = Payload::new(1024, ev);
            let body = p.render(now_us(), 123_456);
            assert!((1000..=1050).contains(&body.len()), "size {}", body.len());
            let v: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
            let inner = if ev.is_some() { &v["payload"] } else { &v };
            assert!(inner["sent_at_us"].is_u64());
            assert_eq!(inner["seq"], 123_456);
            assert_eq!(inner["invoice"]["lines"].as_array().unwrap().len(), 6);
            assert!(find_sent_at_us(&body).is_some());
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("x"), None);
    }
}
