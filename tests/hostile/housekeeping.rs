//! The background work a hostile load leans on: retention racing an operator's retry, the
//! sweeper behind a backlog of 50,000 due rows, and the Redis retry schedule of
//! subscriptions that were paused, deleted or never existed.

use std::process::Command;
use std::time::Duration;

use courier_actors::domain::shard_of;
use serde_json::json;
use uuid::Uuid;

use crate::receiver::{Behaviour, Receiver, Reply};
use crate::support::{TestApp, eventually, id_of, redis_url};
use crate::traffic::{WAIT, assert_delivered, ingest_all, spawn, subscribe};

/// How many sessions of this test's database wait on a row lock in a statement matching
/// `like`.
async fn waiting_on_a_lock(app: &TestApp, like: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND query ILIKE $1",
    )
    .bind(like)
    .fetch_one(&app.db)
    .await
    .expect("pg_stat_activity")
}

/// Retention chooses a finished delivery to delete; before its `DELETE` takes the row an
/// operator's retry re-queues it. The race is made certain with a `FOR KEY SHARE` lock on
/// the row, which blocks the delete (it needs the row exclusively) but not the retry's
/// update (which leaves the key alone): retention has chosen, the retry commits, then the
/// delete goes on — and must keep the row.
#[actix_web::test]
async fn a_finished_delivery_requeued_while_retention_deletes_it_survives() {
    let app = spawn(&[
        ("COURIER_RETENTION", "1s"),
        ("COURIER_RETENTION_INTERVAL", "1h"),
    ])
    .await;
    // The first attempt of each message succeeds; later ones fail, so the requeued
    // delivery stays unfinished (retrying) while the test looks at it.
    let rx = Receiver::start_with(Behaviour::script(&[200, 200, 200], 500)).await;
    let sub = subscribe(&app, &rx.url("/r")).await;
    let sent = ingest_all(&app, &[&sub], 3).await;
    assert_delivered(&app, &sent).await;
    actix_web::rt::time::sleep(Duration::from_millis(1_100)).await;
    let target: Uuid = sent[0].task.parse().expect("uuid");

    let mut holder = app.db.begin().await.expect("begin");
    sqlx::query("SELECT id FROM deliveries WHERE id = $1 FOR KEY SHARE")
        .bind(target)
        .fetch_one(&mut *holder)
        .await
        .expect("key share lock");
    let engine = app.engine.clone();
    let retention = actix_web::rt::spawn(async move { engine.run_retention().await });
    eventually("retention's delete to wait on the row", WAIT, || async {
        (waiting_on_a_lock(&app, "%DELETE FROM deliveries%").await > 0).then_some(())
    })
    .await;
    let retried = app
        .call("POST", &format!("/deliveries/{target}/retry"), None)
        .await;
    assert_eq!(retried.status.as_u16(), 202, "{:?}", retried.body);
    holder.commit().await.expect("release the row");
    let report = retention.await.expect("retention task").expect("a report");

    assert_eq!(report.deliveries, 2, "the two others go: {report:?}");
    for s in &sent[1..] {
        let a = app.get(&format!("/deliveries/{}", s.task)).await;
        assert_eq!(a.status.as_u16(), 404, "{} was old and finished", s.task);
    }
    let d = app.delivery(&sent[0].task).await;
    assert!(
        ["pending", "delivering", "retrying"].contains(&d["status"].as_str().unwrap_or("")),
        "the requeued delivery survives, unfinished: {d}"
    );
    eventually("the requeued delivery to be sent again", WAIT, || async {
        let n = rx
            .requests()
            .iter()
            .filter(|r| r.body == sent[0].body)
            .count();
        (n >= 2).then_some(())
    })
    .await;
}

/// Inserts `n` due deliveries (with messages) for `sub`, due `ago` in the past.
async fn insert_due(app: &TestApp, sub: &str, n: i32, ago: &str) -> Vec<Uuid> {
    sqlx::query_scalar(
        "WITH m AS (INSERT INTO messages (id, event_type, payload, subscription_id) \
           SELECT gen_random_uuid(), 'backlog.test', '{\"backlog\": true}'::json, $1::uuid \
           FROM generate_series(1, $2) RETURNING id) \
         INSERT INTO deliveries (id, message_id, subscription_id, event_type, status, next_attempt_at) \
           SELECT gen_random_uuid(), m.id, $1::uuid, 'backlog.test', 'pending', now() - $3::interval FROM m \
         RETURNING id",
    )
    .bind(sub)
    .bind(n)
    .bind(ago)
    .fetch_all(&app.db)
    .await
    .expect("insert due deliveries")
}

/// A subscription with 50,000 deliveries due for an hour (rate-limited to 1/s, so they stay
/// due) and another with one stranded delivery, due for a minute, that no actor knows of:
/// one sweep reaches both, so the stranded one goes out within seconds.
#[actix_web::test]
async fn the_sweeper_reaches_a_stranded_delivery_behind_a_50000_row_backlog() {
    let app = spawn(&[("COURIER_SWEEP_INTERVAL", "1h")]).await;
    let rx = Receiver::start().await;
    let big = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/big"), "rate_limit_per_second": 1}))
            .await,
    );
    let small = subscribe(&app, &rx.url("/small")).await;
    insert_due(&app, &big, 50_000, "1 hour").await;
    let stranded = insert_due(&app, &small, 1, "1 minute").await;
    assert!(app.engine.sweep_now().await >= 2, "one sweep sees both");
    let task = stranded[0].to_string();
    app.wait_for_status(&task, "succeeded", Duration::from_secs(15))
        .await;
    let left = app
        .count("SELECT count(*) FROM deliveries WHERE status = 'pending'")
        .await;
    assert!(left > 49_000, "the backlog is still there ({left})");
}

fn redis(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-u", &redis_url()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The members of a subscription's shard's retry set that belong to it.
fn retries_of(app: &TestApp, sub: &str) -> Vec<String> {
    let id: Uuid = sub.parse().expect("uuid");
    let key = format!("{}retries:{}", app.redis_prefix, shard_of(id));
    redis(&["ZRANGE", &key, "0", "-1"])
        .lines()
        .filter(|m| m.starts_with(sub))
        .map(str::to_owned)
        .collect()
}

/// Adds a retry entry by hand, as an older node or a lost race might have left it.
fn plant(app: &TestApp, sub: Uuid) {
    let key = format!("{}retries:{}", app.redis_prefix, shard_of(sub));
    let member = format!("{sub}:{}", Uuid::now_v7());
    let due = (chrono::Utc::now().timestamp_millis() + 3_600_000).to_string();
    redis(&["ZADD", &key, &due, &member]);
}

#[actix_web::test]
async fn redis_retries_go_with_a_pause_or_delete_and_unknown_ones_are_dropped_at_restart() {
    let mut app = spawn(&[("COURIER_RETRY_SCHEDULE", "1m")]).await;
    let rx = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let (paused, deleted, active) = (
        subscribe(&app, &rx.url("/p")).await,
        subscribe(&app, &rx.url("/d")).await,
        subscribe(&app, &rx.url("/a")).await,
    );
    let sent = ingest_all(&app, &[&paused, &deleted, &active], 2).await;
    for s in &sent {
        app.wait_for_status(&s.task, "retrying", WAIT).await;
    }
    for sub in [&paused, &deleted, &active] {
        assert_eq!(retries_of(&app, sub).len(), 2, "two retries in redis");
    }
    let p = app
        .call("POST", &format!("/subscriptions/{paused}/pause"), None)
        .await;
    assert_eq!(p.status.as_u16(), 200);
    let d = app
        .call("DELETE", &format!("/subscriptions/{deleted}"), None)
        .await;
    assert_eq!(d.status.as_u16(), 204);
    assert!(retries_of(&app, &paused).is_empty(), "a pause removes them");
    assert!(
        retries_of(&app, &deleted).is_empty(),
        "a delete removes them"
    );

    let unknown = Uuid::now_v7();
    plant(&app, unknown);
    plant(&app, paused.parse().expect("uuid"));
    app.stop().await;
    app.start_again().await;
    eventually("stale entries to be dropped at load", WAIT, || async {
        let gone = retries_of(&app, &unknown.to_string()).is_empty()
            && retries_of(&app, &paused).is_empty();
        gone.then_some(())
    })
    .await;
    assert_eq!(retries_of(&app, &active).len(), 2, "live retries are kept");
}
