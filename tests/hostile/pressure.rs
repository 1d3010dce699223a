//! Bounds under pressure: the number of ingests waiting for a commit (past it, `503
//! overloaded` at once), the attempts and outcomes buffered while Postgres is down (no more
//! than the node's attempt permits, written with backoff once it is back), and the count of
//! duplicates after a crash (exactly the attempts that were in flight).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use courier_actors::db::messages::{IngestItem, NewMessage};
use courier_actors::persistence::{IngestError, MAX_WAITING_INGESTS};
use futures_util::future::join_all;
use uuid::Uuid;

use crate::harness::{self, Courier};
use crate::peers::{HostileReceiver, Misbehaviour};
use crate::postgres::PrivatePostgres;
use crate::receiver::{Behaviour, Receiver, Reply};
use crate::support::eventually;
use crate::traffic::{WAIT, spawn};

/// The advisory lock every ingest commit takes shared (`courier_actors::db::changes`).
const CHANGE_LOCK: i64 = 0x636f_7572_6965_7201;

fn message() -> IngestItem {
    IngestItem {
        message: NewMessage {
            id: Uuid::now_v7(),
            application_id: Uuid::from_u128(1),
            event_type: Arc::from("pressure.test"),
            payload: Arc::from("{}"),
            subscription_id: None,
            ordering_key: None,
        },
        targets: Vec::new(),
        idempotency: None,
    }
}

/// Ingest commits are held back (a session takes the change lock exclusively, as a stuck
/// Postgres would hold them): 30,000 ingests arrive; once `MAX_WAITING_INGESTS` wait, the
/// rest — and an HTTP ingest — are refused at once with `503 overloaded` and `Retry-After:
/// 1`; when commits flow again every ingest that waited is committed.
#[actix_web::test]
async fn past_the_waiting_bound_ingests_are_refused_at_once_and_the_waiting_ones_commit() {
    let app = spawn(&[]).await;
    let mut holder = app.db.acquire().await.expect("conn");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(CHANGE_LOCK)
        .execute(&mut *holder)
        .await
        .expect("lock");
    let total = MAX_WAITING_INGESTS + 10_000;
    let items: Vec<IngestItem> = (0..total).map(|_| message()).collect();
    let ids: Vec<Uuid> = items.iter().map(|i| i.message.id).collect();
    let (refused, last_refused) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let engine = app.engine.clone();
    let (r, l) = (refused.clone(), last_refused.clone());
    let all = actix_web::rt::spawn(async move {
        let n = items.len();
        join_all(items.into_iter().enumerate().map(|(i, item)| {
            let (engine, r, l) = (engine.clone(), r.clone(), l.clone());
            async move {
                let result = engine.ingest(item).await;
                if matches!(result, Err(IngestError::Overloaded)) {
                    r.fetch_add(1, Ordering::SeqCst);
                    if i + 1 == n {
                        l.store(true, Ordering::SeqCst);
                    }
                }
                result.is_ok()
            }
        }))
        .await
    });
    // Messages reach the persistence actor in order: once the last is refused, all were seen.
    eventually("the last ingest to be refused", WAIT, || async {
        last_refused.load(Ordering::SeqCst).then_some(())
    })
    .await;
    let over = app
        .call(
            "POST",
            "/events",
            Some(br#"{"event_type": "p.x", "payload": {}}"#),
        )
        .await;
    assert_eq!(over.status.as_u16(), 503, "{:?}", over.body);
    assert_eq!(over.code(), "overloaded");
    assert_eq!(over.header("retry-after").as_deref(), Some("1"));

    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(CHANGE_LOCK)
        .execute(&mut *holder)
        .await
        .expect("unlock");
    let accepted = all.await.expect("ingests");
    let n_ok = accepted.iter().filter(|ok| **ok).count();
    let n_refused = refused.load(Ordering::SeqCst);
    assert_eq!(n_ok + n_refused, total, "every ingest was answered");
    assert!(
        (MAX_WAITING_INGESTS..=MAX_WAITING_INGESTS + 8_000).contains(&n_ok),
        "{n_ok} waited and were committed"
    );
    let ok_ids: Vec<Uuid> = ids
        .iter()
        .zip(&accepted)
        .filter(|(_, ok)| **ok)
        .map(|(id, _)| *id)
        .collect();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE id = ANY($1)")
        .bind(&ok_ids)
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(stored as usize, n_ok, "every accepted ingest is committed");
    assert_eq!(
        app.count("SELECT count(*) FROM messages").await as usize,
        n_ok,
        "no refused one is"
    );
}

/// Lines of the child's log that say an outcome write is retried, with their waits (ms).
fn retry_waits(log: &str) -> Vec<f64> {
    log.lines()
        .filter(|l| l.contains("cannot write attempt outcomes; retrying"))
        .filter_map(|l| {
            let w = l.split("wait=").nth(1)?.split_whitespace().next()?;
            let (num, unit) = w.split_at(w.find(|c: char| c.is_alphabetic())?);
            let v: f64 = num.parse().ok()?;
            Some(match unit {
                "ms" => v,
                "s" => v * 1000.0,
                "µs" | "us" => v / 1000.0,
                _ => return None,
            })
        })
        .collect()
}

/// Postgres stops while 40 deliveries go to a receiver that takes 1 s each: attempts keep
/// their node-wide permit until their outcome is written, so no more than
/// `COURIER_MAX_ATTEMPTS_IN_FLIGHT` (4) are made while it is down and nothing piles up in
/// memory; the outcome writes are retried with backoff, not in a loop; once Postgres is
/// back every delivery is recorded and none is left unfinished.
#[actix_web::test]
async fn while_postgres_is_down_attempts_stay_within_the_permits_and_every_outcome_is_written_after()
 {
    let pg = PrivatePostgres::init();
    let rx = Receiver::start_with(Behaviour::always(Reply::stall(1_000, 200))).await;
    let mut courier = Courier::new(
        &pg.url("courier"),
        &crate::support::redis_url(),
        &[
            ("COURIER_MAX_ATTEMPTS_IN_FLIGHT", "4"),
            ("COURIER_DELIVERY_TIMEOUT", "5s"),
        ],
    );
    courier.start().await;
    let sub = harness::create_subscription(&courier.base(), &rx.url("/slow")).await;
    let load = harness::ingest(courier.base(), sub, 40, 8).await;
    assert_eq!(load.accepted.len(), 40, "{:?}", load.unexpected);
    rx.wait_for(4, WAIT).await;
    pg.stop();
    let at_stop = rx.count();
    actix_web::rt::time::sleep(Duration::from_secs(7)).await;
    let during = rx.count() - at_stop;
    let waits = retry_waits(&courier.log_text());
    pg.start();
    assert!(
        during <= 4,
        "{during} attempts started while Postgres was down"
    );
    // Each try waits for the pool's 5 s connect timeout before it fails, then backs off
    // (the growth itself is `persistence::outcomes`' unit test): no tight loop.
    assert!(
        (1..=10).contains(&waits.len()),
        "outcome writes retried a few times, not in a loop: {waits:?}"
    );
    let pool = sqlx::PgPool::connect(&pg.url("courier"))
        .await
        .expect("pool");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let by_status = statuses(&pool).await;
        if by_status == [("succeeded".to_owned(), 40)] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all 40 succeeded: {by_status:?}; the receiver got {} requests; log:\n{}",
            rx.count(),
            courier.log_text()
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let attempts: i64 = sqlx::query_scalar("SELECT count(DISTINCT delivery_id) FROM attempts")
        .fetch_one(&pool)
        .await
        .expect("attempts");
    assert_eq!(attempts, 40, "every delivery's attempt is recorded");
    let mut arrivals: std::collections::HashMap<String, usize> = Default::default();
    for r in rx.requests() {
        *arrivals
            .entry(r.header("webhook-id").unwrap_or("").to_owned())
            .or_default() += 1;
    }
    let seen_twice: usize = arrivals.values().map(|n| n - 1).sum();
    let counted = possible_duplicates(&courier.base()).await;
    if seen_twice as u64 > counted {
        for (message, n) in arrivals.iter().filter(|(_, n)| **n > 1) {
            let rows: Vec<(i32, chrono::DateTime<chrono::Utc>, Option<i32>)> = sqlx::query_as(
                "SELECT a.attempt_number, a.attempted_at, a.status_code FROM attempts a \
                 JOIN deliveries d ON d.id = a.delivery_id WHERE d.message_id = $1::uuid ORDER BY 2",
            )
            .bind(message)
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            let at: Vec<_> = rx
                .requests()
                .iter()
                .filter(|r| r.header("webhook-id") == Some(message.as_str()))
                .map(|r| (r.header("x-courier-attempt").map(str::to_owned), r.at))
                .collect();
            eprintln!("message {message} arrived {n} times {at:?}; attempts recorded {rows:?}");
        }
        for l in courier.log_text().lines().filter(|l| {
            [
                "lease",
                "shard",
                "duplicate",
                "fence",
                "refus",
                "epoch",
                "outcome",
            ]
            .iter()
            .any(|k| l.contains(k))
        }) {
            eprintln!("{l}");
        }
    }
    assert!(
        seen_twice as u64 <= counted,
        "the receiver got {seen_twice} duplicates, Courier counted {counted}"
    );
}

/// How many deliveries have each status.
async fn statuses(pool: &sqlx::PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT status, count(*) FROM deliveries GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await
        .unwrap_or_default()
}

/// `courier_possible_duplicates_total` from `/metrics` (0 when absent).
async fn possible_duplicates(base: &str) -> u64 {
    let mut r = awc::Client::default()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics");
    let text = String::from_utf8_lossy(&r.body().await.expect("body")).into_owned();
    text.lines()
        .filter(|l| l.starts_with("courier_possible_duplicates_total"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// A receiver holds every message's first request open; Courier is killed with SIGKILL with
/// all twelve in flight and started again: it counts exactly twelve possible duplicates,
/// the receiver gets each message a second time, and each delivery ends `succeeded`.
#[actix_web::test]
async fn after_a_crash_the_attempts_in_flight_are_counted_as_possible_duplicates_exactly() {
    let db = harness::TestDb::new();
    let hostile = HostileReceiver::start(Misbehaviour::HangFirst).await;
    let mut courier = Courier::new(
        &db.url(),
        &crate::support::redis_url(),
        &[("COURIER_DELIVERY_TIMEOUT", "60s")],
    );
    courier.start().await;
    let sub = harness::create_subscription(&courier.base(), &hostile.url()).await;
    let load = harness::ingest(courier.base(), sub, 12, 4).await;
    assert_eq!(load.accepted.len(), 12, "{:?}", load.unexpected);
    eventually("twelve attempts in flight", WAIT, || async {
        (hostile.seen().len() == 12).then_some(())
    })
    .await;
    courier.kill9();
    courier.start().await;
    eventually("each message to arrive again", WAIT, || async {
        (hostile.seen().len() == 24).then_some(())
    })
    .await;
    let seen = hostile.seen();
    for id in &load.accepted {
        let arrivals: Vec<&str> = seen
            .iter()
            .filter(|s| &s.webhook_id == id)
            .map(|s| s.attempt.as_str())
            .collect();
        assert_eq!(
            arrivals,
            ["1", "1"],
            "{id}: no attempt was recorded before the crash"
        );
    }
    assert_eq!(possible_duplicates(&courier.base()).await, 12);
    let pool = db.pool().await;
    eventually("all twelve to succeed", WAIT, || async {
        let done: i64 =
            sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
                .fetch_one(&pool)
                .await
                .unwrap_or(0);
        (done == 12).then_some(())
    })
    .await;
}
