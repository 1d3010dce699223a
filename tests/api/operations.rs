//! Operating the engine: pause and resume, delete, manual retry and recover, the delivery
//! log and its filters, the overview, retention, the Redis retry schedule, the sweeper and
//! the live stream.

use std::time::Duration;

use awc::http::StatusCode;
use bb8_redis::redis;
use chrono::{SecondsFormat, Utc};
use courier_actors::cache::redis_pool;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::receiver::{Behaviour, Receiver, Reply};
use crate::support::{API_KEY, TestApp, auth_header, eventually, id_of, redis_url, task_of};

const WAIT: Duration = Duration::from_secs(10);

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn pause(app: &TestApp, id: &str) {
    let a = app
        .call("POST", &format!("/subscriptions/{id}/pause"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["status"], "paused");
}

async fn resume(app: &TestApp, id: &str) {
    let a = app
        .call("POST", &format!("/subscriptions/{id}/resume"), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["status"], "active");
}

#[actix_web::test]
async fn pause_holds_new_deliveries_and_resume_drains_them_all() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    pause(&app, &id).await;
    let mut tasks = Vec::new();
    for i in 0..3 {
        let a = app
            .ingest(&id, "a.b", format!("{{\"i\":{i}}}").as_bytes())
            .await;
        assert_eq!(a.body["status"], "paused");
        tasks.push(task_of(&a));
    }
    app.engine.flush().await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 0, "nothing is sent while paused");
    for t in &tasks {
        assert_eq!(app.delivery(t).await["status"], "paused");
    }
    let overview = app.get("/stats/overview").await;
    assert_eq!(overview.body["queued"], 3);
    assert_eq!(overview.body["subscriptions"]["paused"], 1);

    resume(&app, &id).await;
    let got = rx.wait_for(3, WAIT).await;
    let mut bodies: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    bodies.sort();
    assert_eq!(bodies, vec![r#"{"i":0}"#, r#"{"i":1}"#, r#"{"i":2}"#]);
    for t in &tasks {
        app.wait_for_status(t, "succeeded", WAIT).await;
    }
}

#[actix_web::test]
async fn pausing_mid_stream_stops_sending_and_resume_sends_the_rest() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/"), "rate_limit_per_second": 2}))
            .await,
    );
    let tasks = app.ingest_numbered(&id, 6).await;
    rx.wait_for(2, WAIT).await;
    pause(&app, &id).await;
    let at_pause = rx.count();
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        rx.count() <= at_pause + 1,
        "at most the attempt in flight finishes after a pause ({} then {})",
        at_pause,
        rx.count()
    );
    let held = app
        .get(&format!("/subscriptions/{id}/deliveries?status=paused"))
        .await;
    assert!(
        !held.body.as_array().expect("list").is_empty(),
        "the rest are held"
    );
    resume(&app, &id).await;
    for t in &tasks {
        app.wait_for_status(t, "succeeded", WAIT).await;
    }
    let mut seen: Vec<Vec<u8>> = rx.requests().into_iter().map(|r| r.body).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "every message arrived");
}

#[actix_web::test]
async fn deleting_a_subscription_fails_its_pending_deliveries_and_keeps_the_log() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "700ms,700ms")]).await;
    let rx = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let t1 = task_of(&app.ingest(&id, "a.b", b"{\"i\":1}").await);
    let t2 = task_of(&app.ingest(&id, "a.b", b"{\"i\":2}").await);
    app.wait_for_status(&t1, "retrying", WAIT).await;
    app.wait_for_status(&t2, "retrying", WAIT).await;
    assert_eq!(rx.count(), 2);

    let del = app
        .call("DELETE", &format!("/subscriptions/{id}"), None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    for t in [&t1, &t2] {
        let d = app.delivery(t).await;
        assert_eq!(d["status"], "failed");
        assert_eq!(d["next_attempt_at"], Value::Null);
        assert!(
            d["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("deleted")),
            "{:?}",
            d["last_error"]
        );
    }
    actix_web::rt::time::sleep(Duration::from_millis(1000)).await;
    app.engine.flush().await;
    assert_eq!(rx.count(), 2, "no retry after the delete");
    assert_eq!(app.delivery(&t1).await["status"], "failed");

    assert_eq!(
        app.get(&format!("/subscriptions/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let log = app.get(&format!("/subscriptions/{id}/deliveries")).await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    let items = log.body.as_array().expect("list");
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|d| d["status"] == "failed"));
    assert!(
        items
            .iter()
            .all(|d| d["attempts"].as_array().map(Vec::len) == Some(1))
    );
    let again = app.ingest(&id, "a.b", b"{}").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_manual_retry_sends_again_with_a_fresh_retry_budget() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "150ms")]).await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let task = task_of(&app.ingest(&id, "a.b", b"{\"r\":1}").await);
    app.wait_for_status(&task, "succeeded", WAIT).await;

    let a = app
        .call("POST", &format!("/deliveries/{task}/retry"), None)
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(a.body["id"], task.as_str());
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(got[1].header("x-courier-attempt"), Some("2"));
    assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"));
    assert_eq!(got[1].body, b"{\"r\":1}");
    let d = eventually("the retried attempt to be logged", WAIT, || async {
        app.engine.flush().await;
        let d = app.delivery(&task).await;
        (d["status"] == "succeeded" && d["attempt_count"] == 2).then_some(d)
    })
    .await;
    assert_eq!(d["attempts"].as_array().map(Vec::len), Some(2));

    // A failed delivery gets the whole schedule again: fail, then succeed on its retry.
    rx.set(Behaviour::always(Reply::status(500)));
    let failed = task_of(&app.ingest(&id, "a.b", b"{\"r\":2}").await);
    app.wait_for_status(&failed, "failed", WAIT).await;
    rx.set(Behaviour::script(&[500], 200));
    let a = app
        .call("POST", &format!("/deliveries/{failed}/retry"), None)
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let d = app.wait_for_status(&failed, "succeeded", WAIT).await;
    assert_eq!(
        d["attempt_count"], 4,
        "2 before, then a failure and a retry"
    );
}

#[actix_web::test]
async fn recover_requeues_the_failed_deliveries_since_a_time() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "150ms")]).await;
    let rx = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let old = task_of(&app.ingest(&id, "a.b", b"{\"n\":0}").await);
    app.wait_for_status(&old, "failed", WAIT).await;
    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    let since = rfc3339(Utc::now());
    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    let mut recent = Vec::new();
    for n in 1..=2 {
        recent.push(task_of(
            &app.ingest(&id, "a.b", format!("{{\"n\":{n}}}").as_bytes())
                .await,
        ));
    }
    for t in &recent {
        app.wait_for_status(t, "failed", WAIT).await;
    }
    rx.set(Behaviour::always(Reply::status(200)));
    // Not failed: recover leaves it alone.
    let ok = task_of(&app.ingest(&id, "a.b", b"{\"n\":3}").await);
    app.wait_for_status(&ok, "succeeded", WAIT).await;

    let a = app
        .call(
            "POST",
            &format!("/subscriptions/{id}/recover?since={since}"),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
    assert_eq!(a.body["requeued"], 2);
    for t in &recent {
        let d = app.wait_for_status(t, "succeeded", WAIT).await;
        assert_eq!(d["attempt_count"], 3);
    }
    assert_eq!(app.delivery(&old).await["status"], "failed");
    assert_eq!(app.delivery(&ok).await["attempt_count"], 1);
}

#[actix_web::test]
async fn the_delivery_log_pages_newest_first_and_filters() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let start = rfc3339(Utc::now() - chrono::Duration::seconds(5));
    let mut tasks = Vec::new();
    for (i, t) in ["a.x", "a.x", "b.y", "a.x", "b.y"].iter().enumerate() {
        tasks.push(task_of(
            &app.ingest(&id, t, format!("{{\"i\":{i}}}").as_bytes())
                .await,
        ));
    }
    for t in &tasks {
        app.wait_for_status(t, "succeeded", WAIT).await;
    }
    let mut seen = Vec::new();
    let mut path = format!("/subscriptions/{id}/deliveries?limit=2");
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        let items = page.body.as_array().expect("list").clone();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|d| d["id"].as_str().expect("id").to_owned()),
        );
        match page.header("x-next-cursor") {
            Some(c) => path = format!("/subscriptions/{id}/deliveries?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut newest_first = tasks.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let count = |q: String| {
        let app = &app;
        let id = id.clone();
        async move {
            let a = app
                .get(&format!("/subscriptions/{id}/deliveries?{q}"))
                .await;
            assert_eq!(a.status, StatusCode::OK, "{q}: {:?}", a.body);
            a.body.as_array().expect("list").len()
        }
    };
    assert_eq!(count("event_type=b.y".into()).await, 2);
    assert_eq!(count("status=succeeded&event_type=a.x".into()).await, 3);
    assert_eq!(count("status=failed".into()).await, 0);
    assert_eq!(count(format!("since={start}")).await, 5);
    assert_eq!(count(format!("until={start}")).await, 0);
    let future = rfc3339(Utc::now() + chrono::Duration::hours(1));
    assert_eq!(count(format!("since={future}")).await, 0);

    let d = app.delivery(&tasks[0]).await;
    let m = app
        .get(&format!(
            "/messages/{}",
            d["message_id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.body["payload"], json!({"i": 0}));
    assert_eq!(m.body["subscription_id"], id.as_str());
    assert_eq!(m.body["deliveries"][0]["id"], tasks[0].as_str());
}

#[actix_web::test]
async fn the_overview_counts_attempts_retries_and_failing_subscriptions() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "5s")]).await;
    let good = Receiver::start().await;
    let bad = Receiver::start_with(Behaviour::always(Reply::status(500))).await;
    let good_id = id_of(
        &app.create_subscription(json!({"target_url": good.url("/")}))
            .await,
    );
    let bad_id = id_of(
        &app.create_subscription(json!({"target_url": bad.url("/")}))
            .await,
    );
    let paused_id = id_of(
        &app.create_subscription(json!({"target_url": good.url("/p")}))
            .await,
    );
    pause(&app, &paused_id).await;
    let ok = task_of(&app.ingest(&good_id, "a.b", b"{}").await);
    let failing = task_of(&app.ingest(&bad_id, "a.b", b"{}").await);
    app.wait_for_status(&ok, "succeeded", WAIT).await;
    app.wait_for_status(&failing, "retrying", WAIT).await;

    // The failing streak is recorded beside the outcome, so poll for it.
    let o = eventually(
        "the overview to list the failing subscription",
        WAIT,
        || async {
            let o = app.get("/stats/overview").await;
            assert_eq!(o.status, StatusCode::OK);
            let listed = o.body["failing_subscriptions"]
                .as_array()
                .is_some_and(|l| !l.is_empty());
            listed.then_some(o)
        },
    )
    .await;
    let minutes = o.body["per_minute"].as_array().expect("per_minute");
    assert_eq!(minutes.len(), 60);
    let sum = |k: &str| {
        minutes
            .iter()
            .map(|m| m[k].as_i64().unwrap_or(0))
            .sum::<i64>()
    };
    assert_eq!(sum("succeeded"), 1);
    assert_eq!(sum("failed"), 1);
    assert_eq!(o.body["pending_retries"], 1);
    assert_eq!(
        o.body["subscriptions"],
        json!({"active": 2, "paused": 1, "disabled": 0})
    );
    let failing_subs = o.body["failing_subscriptions"].as_array().expect("list");
    assert_eq!(failing_subs.len(), 1, "{failing_subs:?}");
    assert_eq!(failing_subs[0]["id"], bad_id.as_str());
    assert_eq!(failing_subs[0]["failed_last_hour"], 1);
}

#[actix_web::test]
async fn retention_removes_old_finished_rows_and_keeps_unfinished_ones() {
    // Retention is by age: a short retention (in milliseconds) instead of back-dated rows,
    // since the hot tables' time-ordered ids are what retention reads.
    let app = TestApp::spawn_with(&[
        ("COURIER_RETENTION", "1500ms"),
        ("COURIER_IDEMPOTENCY_TTL", "1500ms"),
        ("COURIER_RETENTION_INTERVAL", "1h"),
    ])
    .await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/"), "event_types": ["a.*"]}))
            .await,
    );
    let held_id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/h")}))
            .await,
    );
    let gone_id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/g")}))
            .await,
    );
    pause(&app, &held_id).await;

    let done = app
        .call_with(
            "POST",
            &format!("/ingest/{id}?event_type=a.b"),
            Some(b"{\"old\":1}"),
            &[
                ("Authorization", &auth_header()),
                ("Idempotency-Key", "old-1"),
            ],
        )
        .await;
    let done = task_of(&done);
    let filtered = task_of(&app.ingest(&id, "z.z", b"{\"old\":2}").await);
    let held = task_of(&app.ingest(&held_id, "a.b", b"{\"old\":3}").await);
    app.wait_for_status(&done, "succeeded", WAIT).await;
    let held_message = app.delivery(&held).await["message_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let del = app
        .call("DELETE", &format!("/subscriptions/{gone_id}"), None)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);

    // Wait until everything above (the delete last) is older than the retention.
    let old_enough = std::time::Instant::now() + std::time::Duration::from_millis(1600);
    tokio::time::sleep(old_enough.saturating_duration_since(std::time::Instant::now())).await;
    // A fresh one, made after that, stays.
    let fresh = task_of(&app.ingest(&id, "a.c", b"{\"new\":1}").await);
    app.wait_for_status(&fresh, "succeeded", WAIT).await;

    let report = app.engine().run_retention().await.expect("a retention run");
    assert_eq!(report.attempts, 1, "{report:?}");
    assert_eq!(report.deliveries, 2, "succeeded and filtered: {report:?}");
    assert_eq!(report.messages, 2, "{report:?}");
    assert_eq!(report.idempotency_keys, 1, "{report:?}");
    assert_eq!(report.subscriptions, 1, "{report:?}");

    for t in [&done, &filtered] {
        assert_eq!(
            app.get(&format!("/deliveries/{t}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(app.delivery(&held).await["status"], "paused");
    assert_eq!(
        app.get(&format!("/messages/{held_message}")).await.status,
        StatusCode::OK,
        "an unfinished delivery keeps its message"
    );
    assert_eq!(app.delivery(&fresh).await["status"], "succeeded");
    assert_eq!(
        app.count("SELECT count(*) FROM subscriptions").await,
        2,
        "the long-deleted subscription without deliveries is gone"
    );

    let again = app.engine().run_retention().await.expect("a second run");
    assert_eq!(again, Default::default(), "nothing left to remove");
    resume(&app, &held_id).await;
    app.wait_for_status(&held, "succeeded", WAIT).await;
}

#[actix_web::test]
async fn a_scheduled_retry_is_kept_in_redis_until_it_succeeds() {
    let app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "1s")]).await;
    let rx = Receiver::start_with(Behaviour::script(&[500], 200)).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let task = task_of(&app.ingest(&id, "a.b", b"{}").await);
    let d = app.wait_for_status(&task, "retrying", WAIT).await;
    let next: chrono::DateTime<Utc> = d["next_attempt_at"]
        .as_str()
        .expect("next_attempt_at")
        .parse()
        .expect("time");

    let pool = redis_pool(&redis_url(), 2).expect("redis url");
    let key = retries_key(&app.redis_prefix, &id);
    let member = format!("{id}:{task}");
    let score = || {
        let (pool, key, member) = (pool.clone(), key.clone(), member.clone());
        async move {
            let mut conn = pool.get().await.expect("redis");
            redis::cmd("ZSCORE")
                .arg(&key)
                .arg(&member)
                .query_async::<Option<f64>>(&mut *conn)
                .await
                .expect("zscore")
        }
    };
    let due = score().await.expect("the retry is scheduled in redis");
    let now = Utc::now().timestamp_millis() as f64;
    assert!(
        due > now && due < now + 1500.0,
        "due {due} is about a second after {now}"
    );
    assert!(
        (due - next.timestamp_millis() as f64).abs() < 5.0,
        "same as Postgres"
    );

    app.wait_for_status(&task, "succeeded", WAIT).await;
    eventually("the retry to leave redis", WAIT, || async {
        app.engine.flush().await;
        score().await.is_none().then_some(())
    })
    .await;
}

#[actix_web::test]
async fn the_sweeper_delivers_a_due_delivery_found_only_in_postgres() {
    let app = TestApp::spawn_with(&[("COURIER_SWEEP_INTERVAL", "1h")]).await;
    let rx = Receiver::start().await;
    let id: Uuid = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/swept")}))
            .await,
    )
    .parse()
    .expect("uuid");
    let (message, delivery) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "INSERT INTO messages (id, event_type, payload, subscription_id) \
         VALUES ($1, 'swept.event', $2::text::json, $3)",
    )
    .bind(message)
    .bind("{\"swept\": true}")
    .bind(id)
    .execute(&app.db)
    .await
    .expect("message");
    sqlx::query(
        "INSERT INTO deliveries (id, message_id, subscription_id, event_type, status, next_attempt_at) \
         VALUES ($1, $2, $3, 'swept.event', 'pending', now())",
    )
    .bind(delivery)
    .bind(message)
    .bind(id)
    .execute(&app.db)
    .await
    .expect("delivery");

    assert_eq!(app.engine().sweep_now().await, 1);
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].body, b"{\"swept\": true}");
    assert_eq!(
        got[0].header("webhook-id"),
        Some(message.to_string().as_str())
    );
    let d = app
        .wait_for_status(&delivery.to_string(), "succeeded", WAIT)
        .await;
    assert_eq!(d["attempt_count"], 1);
    assert_eq!(app.engine().sweep_now().await, 0, "nothing left due");
}

/// Reads SSE frames until one `event: attempt` arrives; returns its data.
async fn next_attempt_event<S, E>(stream: &mut S, buf: &mut String) -> Value
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, E>> + Unpin,
    E: std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if frame.starts_with("event: attempt\n") {
                let data = frame
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .expect("a data line");
                return serde_json::from_str(data).expect("event data is JSON");
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("an attempt event within the deadline")
            .expect("the stream stays open")
            .expect("a chunk");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[actix_web::test]
async fn the_live_stream_shows_each_attempt_of_the_chosen_subscription() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let other = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/o")}))
            .await,
    );

    let unauthorised = app.call_with("GET", "/stream", None, &[]).await;
    assert_eq!(unauthorised.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unauthorised.code(), "unauthorized");
    let wrong = app
        .call_with("GET", "/stream?api_key=not-the-key-at-all", None, &[])
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let mut stream = app
        .client
        .get(app.url(&format!("/stream?subscription_id={id}")))
        .insert_header(("Authorization", format!("Bearer {API_KEY}")))
        .send()
        .await
        .expect("stream opens");
    assert_eq!(stream.status(), StatusCode::OK);
    let ct = stream
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(ct.starts_with("text/event-stream"), "{ct}");

    // Another subscription's attempt is not shown.
    let skipped = task_of(&app.ingest(&other, "a.b", b"{}").await);
    app.wait_for_status(&skipped, "succeeded", WAIT).await;
    let task = task_of(&app.ingest(&id, "order.created", b"{\"s\":1}").await);
    let mut buf = String::new();
    let event = next_attempt_event(&mut stream, &mut buf).await;
    assert_eq!(event["delivery_id"], task.as_str());
    assert_eq!(event["subscription_id"], id.as_str());
    assert_eq!(event["event_type"], "order.created");
    assert_eq!(event["delivery_status"], "succeeded");
    assert_eq!(event["attempt"]["attempt_number"], 1);
    assert_eq!(event["attempt"]["status_code"], 200);
    assert_eq!(event["attempt"]["succeeded"], true);
    assert!(event["message_id"].is_string());
}

#[actix_web::test]
async fn a_restarted_server_resumes_retries_from_redis_and_sweeps_what_redis_lost() {
    let mut app = TestApp::spawn_with(&[("COURIER_RETRY_SCHEDULE", "1s")]).await;
    let rx = Receiver::start_with(Behaviour::script(&[500, 500], 200)).await;
    let id = id_of(
        &app.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let from_redis = task_of(&app.ingest(&id, "a.b", b"{\"via\":\"redis\"}").await);
    let from_sweep = task_of(&app.ingest(&id, "a.b", b"{\"via\":\"sweep\"}").await);
    app.wait_for_status(&from_redis, "retrying", WAIT).await;
    app.wait_for_status(&from_sweep, "retrying", WAIT).await;

    app.stop().await;
    // Postgres no longer calls the first one due soon, so only Redis can bring it back; Redis
    // forgets the second, so only the sweeper can.
    sqlx::query("UPDATE deliveries SET next_attempt_at = now() + interval '1 day' WHERE id = $1")
        .bind(Uuid::parse_str(&from_redis).expect("uuid"))
        .execute(&app.db)
        .await
        .expect("update");
    let pool = redis_pool(&redis_url(), 2).expect("redis url");
    let mut conn = pool.get().await.expect("redis");
    let removed: i64 = redis::cmd("ZREM")
        .arg(retries_key(&app.redis_prefix, &id))
        .arg(format!("{id}:{from_sweep}"))
        .query_async(&mut *conn)
        .await
        .expect("zrem");
    assert_eq!(removed, 1, "the retry was scheduled in redis");
    drop(conn);
    app.start_again().await;

    for t in [&from_redis, &from_sweep] {
        let d = app.wait_for_status(t, "succeeded", WAIT).await;
        assert_eq!(d["attempt_count"], 2);
    }
    let mut bodies: Vec<String> = rx
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 2);
}

#[actix_web::test]
async fn many_concurrent_ingests_are_each_delivered_to_every_subscriber() {
    let app = TestApp::spawn().await;
    let (rx1, rx2) = (Receiver::start().await, Receiver::start().await);
    app.create_subscription(json!({"target_url": rx1.url("/")}))
        .await;
    app.create_subscription(json!({"target_url": rx2.url("/"), "event_types": ["load.*"]}))
        .await;
    let answers = futures_util::future::join_all((0..40).map(|i| {
        let app = &app;
        async move {
            app.post(
                "/events",
                &json!({"event_type": "load.test", "payload": {"i": i}}),
            )
            .await
        }
    }))
    .await;
    let mut tasks = Vec::new();
    for a in &answers {
        assert_eq!(a.status, StatusCode::ACCEPTED, "{:?}", a.body);
        for t in a.body["task_id"].as_array().expect("ids") {
            tasks.push(t.as_str().expect("id").to_owned());
        }
    }
    assert_eq!(tasks.len(), 80);
    for rx in [&rx1, &rx2] {
        let got = rx.wait_for(40, WAIT).await;
        let mut bodies: Vec<Vec<u8>> = got.into_iter().map(|r| r.body).collect();
        bodies.sort();
        bodies.dedup();
        assert_eq!(bodies.len(), 40, "every event reached every subscriber");
    }
    eventually("every delivery to succeed", WAIT, || async {
        app.engine.flush().await;
        (app.count("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
            .await
            == 80)
            .then_some(())
    })
    .await;
}

/// The Redis sorted set that holds a subscription's retries (one per shard).
fn retries_key(prefix: &str, subscription_id: &str) -> String {
    let id: Uuid = subscription_id.parse().expect("uuid");
    format!("{prefix}retries:{}", courier_actors::domain::shard_of(id))
}
