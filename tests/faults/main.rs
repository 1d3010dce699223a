//! The fault suite: for each fault a production deployment meets, ingest a few hundred
//! messages under load, inject the fault, and check that every message answered 202 reached
//! the receiver at least once. Duplicates are counted and reported
//! (`target/tmp/faults/report.txt`), not failed: at-least-once allows them.

mod harness;
mod ordering;
mod postgres;

use std::time::{Duration, Instant};

use harness::{
    Courier, LoadResult, PrivateRedis, Receiver, TestDb, create_subscription, duplicates, ingest,
    report,
};
use postgres::PrivatePostgres;

const SHARED_REDIS: &str = "redis://127.0.0.1:6379";

fn merge(results: Vec<LoadResult>) -> LoadResult {
    let mut all = LoadResult::default();
    for r in results {
        all.accepted.extend(r.accepted);
        all.unavailable += r.unavailable;
        all.refused += r.refused;
        all.unexpected.extend(r.unexpected);
    }
    all
}

/// Waits for every accepted message, reports the line, and fails on loss or a bad answer.
async fn settle(name: &str, rx: &Receiver, load: &LoadResult, courier: &Courier) {
    settle_in(name, rx, load, courier, None).await;
}

/// As `settle`; on loss, describes the missing messages from `db`.
async fn settle_in(
    name: &str,
    rx: &Receiver,
    load: &LoadResult,
    courier: &Courier,
    db: Option<&str>,
) {
    let started = Instant::now();
    let missing = rx.wait_for(&load.accepted, Duration::from_secs(90)).await;
    let counts = rx.counts();
    report(&format!(
        "{name}: accepted {} | delivered {} | lost {} | duplicates {} | 503 answers {} | refused connections {} | \
         unexpected answers {} | drained {:.1}s after load",
        load.accepted.len(),
        load.accepted
            .iter()
            .filter(|id| counts.contains_key(*id))
            .count(),
        missing.len(),
        duplicates(&counts),
        load.unavailable,
        load.refused,
        load.unexpected.len(),
        started.elapsed().as_secs_f64(),
    ));
    assert!(
        load.unexpected.is_empty(),
        "{name}: unexpected answers: {:?}",
        load.unexpected
    );
    if let (false, Some(url)) = (missing.is_empty(), db) {
        describe_missing(url, &missing).await;
    }
    assert!(
        missing.is_empty(),
        "{name}: {} accepted messages never arrived; log:\n{}",
        missing.len(),
        tail(&courier.log_text())
    );
    assert!(!load.accepted.is_empty(), "{name}: nothing was accepted");
}

async fn describe_missing(db_url: &str, missing: &[String]) {
    let Ok(pool) = sqlx::PgPool::connect(db_url).await else {
        return;
    };
    let ids: Vec<uuid::Uuid> = missing.iter().filter_map(|m| m.parse().ok()).collect();
    let rows: Vec<(String, i32, Option<String>, i64)> = sqlx::query_as(
        "SELECT d.status, d.attempt_count, d.last_error, (SELECT count(*) FROM attempts a WHERE a.delivery_id = d.id) \
         FROM deliveries d WHERE d.message_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&pool)
    .await
    .unwrap_or_default();
    println!(
        "missing messages in the database ({} of {}): {rows:?}",
        rows.len(),
        ids.len()
    );
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A running Courier with a recording receiver and one subscription to it.
struct Setup {
    rx: Receiver,
    courier: Courier,
    sub: String,
}

/// Starts Courier on `db_url` and `redis_url` (with `extra` settings) and subscribes a
/// receiver that fails `fail_first_percent` % of first attempts and delays answers up to
/// `max_delay_ms`.
async fn setup(
    db_url: &str,
    redis_url: &str,
    extra: &[(&str, &str)],
    fail_first_percent: u64,
    max_delay_ms: u64,
) -> Setup {
    let rx = Receiver::new(fail_first_percent, max_delay_ms);
    let target = rx.serve();
    let mut courier = Courier::new(db_url, redis_url, extra);
    courier.start().await;
    let sub = create_subscription(&courier.base(), &target).await;
    Setup { rx, courier, sub }
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[actix_web::test]
async fn kill_9_of_the_server_mid_load_loses_no_accepted_message() {
    let db = TestDb::new();
    let Setup {
        rx,
        mut courier,
        sub,
    } = setup(&db.url(), SHARED_REDIS, &[], 20, 40).await;
    let wave = actix_web::rt::spawn(ingest(courier.base(), sub.clone(), 400, 16));
    sleep_ms(400).await;
    courier.kill9();
    sleep_ms(300).await;
    courier.start().await;
    let first = wave.await.unwrap_or_default();
    let second = ingest(courier.base(), sub, 100, 8).await;
    settle(
        "kill -9 mid-load",
        &rx,
        &merge(vec![first, second]),
        &courier,
    )
    .await;
    report(&format!(
        "kill -9 mid-load: Courier counted {} attempts interrupted by the crash (possible duplicates)",
        interrupted_attempts(&courier.log_text())
    ));
}

/// The count Courier logs at start for attempts the previous run left in flight.
fn interrupted_attempts(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("were in flight when the previous run stopped"))
        .filter_map(|l| {
            l.split("count=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// Receivers that never answer, reset the connection, or answer with a huge body, beside a
/// healthy one: the healthy one gets everything, the server stays responsive and small.
#[actix_web::test]
async fn hanging_resetting_and_huge_receivers_do_not_hurt_a_healthy_one() {
    let db = TestDb::new();
    let rx = Receiver::new(0, 0);
    let healthy = rx.serve();
    let hang = misbehaving_receiver(Misbehaviour::Hang);
    let reset = misbehaving_receiver(Misbehaviour::Reset);
    let huge = misbehaving_receiver(Misbehaviour::Huge);
    let mut courier = Courier::new(
        &db.url(),
        SHARED_REDIS,
        &[("COURIER_DELIVERY_TIMEOUT", "500ms")],
    );
    courier.start().await;
    let good = create_subscription(&courier.base(), &healthy).await;
    let mut bad_loads = Vec::new();
    for target in [&hang, &reset, &huge] {
        let sub = create_subscription(&courier.base(), target).await;
        bad_loads.push(actix_web::rt::spawn(ingest(courier.base(), sub, 100, 4)));
    }
    let load = ingest(courier.base(), good, 200, 8).await;
    for l in bad_loads {
        let bad = l.await.unwrap_or_default();
        assert!(bad.unexpected.is_empty(), "{:?}", bad.unexpected);
    }
    let t = Instant::now();
    let health = awc::Client::default()
        .get(format!("{}/health", courier.base()))
        .send()
        .await
        .map(|r| r.status().as_u16());
    let health_ms = t.elapsed().as_millis();
    let rss = courier.rss_kib().unwrap_or(0);
    report(&format!(
        "misbehaving receivers: /health answered {health:?} in {health_ms} ms under load; RSS {:.1} MiB",
        rss as f64 / 1024.0
    ));
    assert_eq!(health.ok(), Some(200));
    assert!(rss < 300 * 1024, "RSS {rss} KiB");
    settle(
        "hanging + resetting + 20 MiB-body receivers beside a healthy one",
        &rx,
        &load,
        &courier,
    )
    .await;
}

#[derive(Clone, Copy)]
enum Misbehaviour {
    /// Accepts and never answers.
    Hang,
    /// Accepts and closes at once.
    Reset,
    /// Answers 200 with a 20 MiB body.
    Huge,
}

/// A raw TCP receiver on 127.0.0.1 that misbehaves; returns its URL.
fn misbehaving_receiver(kind: Misbehaviour) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().map(|a| a.port()).expect("port");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            match kind {
                Misbehaviour::Hang => held.push(stream),
                Misbehaviour::Reset => drop(stream),
                Misbehaviour::Huge => {
                    std::thread::spawn(move || {
                        let mut s = stream;
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                        let body = vec![b'x'; 20 << 20];
                        let head =
                            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
                        let _ = s.write_all(head.as_bytes());
                        let _ = s.write_all(&body);
                    });
                }
            }
        }
    });
    format!("http://127.0.0.1:{port}/hook")
}

#[actix_web::test]
async fn sigterm_finishes_attempts_in_flight_exits_zero_and_the_next_start_resumes() {
    let db = TestDb::new();
    let Setup {
        rx,
        mut courier,
        sub,
    } = setup(&db.url(), SHARED_REDIS, &[], 30, 60).await;
    let wave = actix_web::rt::spawn(ingest(courier.base(), sub.clone(), 400, 16));
    sleep_ms(400).await;
    let code = courier.terminate(Duration::from_secs(20));
    let log = courier.log_text();
    assert_eq!(code, Some(0), "SIGTERM must exit 0; log:\n{}", tail(&log));
    assert!(
        log.contains("waiting for attempts in flight"),
        "shutdown says what it waits for:\n{}",
        tail(&log)
    );
    assert!(log.contains("courier stopped cleanly"), "{}", tail(&log));
    courier.start().await;
    let first = wave.await.unwrap_or_default();
    let second = ingest(courier.base(), sub, 100, 8).await;
    settle(
        "SIGTERM mid-load, then restart",
        &rx,
        &merge(vec![first, second]),
        &courier,
    )
    .await;
}

#[actix_web::test]
async fn a_redis_restart_and_a_flush_lose_nothing() {
    let db = TestDb::new();
    let mut redis = PrivateRedis::start();
    let retries = [("COURIER_RETRY_SCHEDULE", "1s,1s,2s,2s")];
    let Setup {
        rx,
        mut courier,
        sub,
    } = setup(&db.url(), &redis.url(), &retries, 40, 20).await;
    let wave = actix_web::rt::spawn(ingest(courier.base(), sub.clone(), 300, 12));
    sleep_ms(300).await;
    redis.restart(Duration::from_millis(500));
    sleep_ms(300).await;
    redis.cli(&["FLUSHALL"]);
    let first = wave.await.unwrap_or_default();
    // Retries scheduled in Redis are gone: kill the server too, so only Postgres can tell
    // the next start what is still due.
    redis.cli(&["FLUSHALL"]);
    courier.kill9();
    courier.start().await;
    let second = ingest(courier.base(), sub, 100, 8).await;
    settle(
        "redis restart + FLUSHALL + kill -9",
        &rx,
        &merge(vec![first, second]),
        &courier,
    )
    .await;
}

#[actix_web::test]
async fn terminated_postgres_connections_lose_nothing_and_never_answer_500() {
    let db = TestDb::new();
    let Setup { rx, courier, sub } = setup(&db.url(), SHARED_REDIS, &[], 20, 20).await;
    let wave = actix_web::rt::spawn(ingest(courier.base(), sub.clone(), 400, 16));
    let mut terminated = 0;
    for _ in 0..4 {
        sleep_ms(150).await;
        terminated += db.terminate_connections().await;
    }
    let first = wave.await.unwrap_or_default();
    report(&format!(
        "pg_terminate_backend: {terminated} server connections terminated during the load"
    ));
    settle("pg_terminate_backend x4 mid-load", &rx, &first, &courier).await;
}

#[actix_web::test]
async fn a_100k_backlog_keeps_memory_bounded() {
    let db = TestDb::new();
    let sweep = [("COURIER_SWEEP_INTERVAL", "200ms")];
    let Setup {
        rx,
        mut courier,
        sub,
    } = setup(&db.url(), SHARED_REDIS, &sweep, 0, 0).await;
    let pool = db.pool().await;
    sqlx::query("UPDATE subscriptions SET rate_limit_per_second = 200 WHERE id = $1::uuid")
        .bind(&sub)
        .execute(&pool)
        .await
        .expect("rate limit");
    courier.kill9();
    let payload = format!("{{\"pad\": \"{}\"}}", "x".repeat(1000));
    sqlx::query(
        "WITH m AS (INSERT INTO messages (id, event_type, payload, subscription_id) \
           SELECT gen_random_uuid(), 'backlog.test', $2::json, $1::uuid FROM generate_series(1, 100000) RETURNING id) \
         INSERT INTO deliveries (id, message_id, subscription_id, event_type, status, next_attempt_at) \
           SELECT gen_random_uuid(), m.id, $1::uuid, 'backlog.test', 'pending', now() FROM m",
    )
    .bind(&sub)
    .bind(&payload)
    .execute(&pool)
    .await
    .expect("backlog");
    let before = courier.rss_kib();
    courier.start().await;
    let mut peak = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        peak = peak.max(courier.rss_kib().unwrap_or(0));
        sleep_ms(100).await;
    }
    let delivered = rx.counts().len();
    report(&format!(
        "100k backlog (1 KiB payloads, rate limit 200/s): peak RSS {:.1} MiB over 6 s, {delivered} delivered meanwhile (rss before restart: {:?})",
        peak as f64 / 1024.0,
        before
    ));
    assert!(delivered > 0, "the backlog drains");
    assert!(peak < 200 * 1024, "RSS {peak} KiB with a 100k backlog");
}

#[actix_web::test]
async fn while_postgres_is_down_ingest_answers_503_and_nothing_accepted_is_lost() {
    let pg = PrivatePostgres::init();
    let Setup { rx, courier, sub } = setup(&pg.url("courier"), SHARED_REDIS, &[], 10, 20).await;
    let wave = actix_web::rt::spawn(ingest(courier.base(), sub.clone(), 300, 8));
    sleep_ms(300).await;
    pg.stop();
    let down = actix_web::rt::spawn(ingest(courier.base(), sub.clone(), 20, 4));
    sleep_ms(3000).await;
    let ready_while_down = awc::Client::default()
        .get(format!("{}/ready", courier.base()))
        .send()
        .await
        .map(|r| r.status().as_u16());
    pg.start();
    let results = vec![
        wave.await.unwrap_or_default(),
        down.await.unwrap_or_default(),
        ingest(courier.base(), sub, 100, 8).await,
    ];
    let load = merge(results);
    assert_eq!(
        ready_while_down.ok(),
        Some(503),
        "/ready reports Postgres down"
    );
    assert!(
        load.unavailable > 0,
        "ingest answered 503 while Postgres was down"
    );
    settle_in(
        "Postgres stopped (immediate) for 3 s mid-load",
        &rx,
        &load,
        &courier,
        Some(&pg.url("courier")),
    )
    .await;
}
