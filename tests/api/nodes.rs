//! Two nodes sharing one Postgres and one Redis: a change made on one is seen by the other at
//! once, and a fan-out on either reaches subscriptions created on the other.

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::json;

use crate::receiver::Receiver;
use crate::support::{TestApp, eventually, id_of};

#[actix_web::test]
async fn a_change_on_one_node_reaches_the_other_nodes_directory_at_once() {
    let a = TestApp::spawn_with(&[("COURIER_NODE_ID", "node-a")]).await;
    let b = a.peer("node-b").await;
    let rx = Receiver::start().await;
    let id = id_of(
        &a.create_subscription(
            json!({"target_url": rx.url("/"), "event_types": ["order.created"]}),
        )
        .await,
    );
    // B learns of the new subscription without a lookup: its fan-out index has it.
    eventually(
        "node b to know the new subscription",
        Duration::from_secs(5),
        || async {
            let r = b
                .post(
                    "/events",
                    &json!({"event_type": "order.created", "payload": {"n": 1}}),
                )
                .await;
            (r.status == StatusCode::ACCEPTED && r.body["status"] == "accepted").then_some(())
        },
    )
    .await;
    // A change on A: B's directory follows, so B now filters the old type.
    let patched = a
        .call(
            "PATCH",
            &format!("/subscriptions/{id}"),
            Some(br#"{"event_types": ["order.updated"]}"#),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    eventually(
        "node b to see the new filter",
        Duration::from_secs(5),
        || async {
            let r = b.ingest(&id, "order.created", b"{\"n\": 2}").await;
            (r.body["status"] == "filtered").then_some(())
        },
    )
    .await;
    // A pause on B holds ingests on A.
    let paused = b
        .call("POST", &format!("/subscriptions/{id}/pause"), None)
        .await;
    assert_eq!(paused.status, StatusCode::OK);
    eventually(
        "node a to see the pause",
        Duration::from_secs(5),
        || async {
            let r = a.ingest(&id, "order.updated", b"{\"n\": 3}").await;
            (r.body["status"] == "paused").then_some(())
        },
    )
    .await;
}

#[actix_web::test]
async fn only_the_owner_node_sends_so_an_ingest_on_another_node_arrives_once() {
    let a = TestApp::spawn_with(&[
        ("COURIER_NODE_ID", "node-a"),
        ("COURIER_SWEEP_INTERVAL", "200ms"),
    ])
    .await;
    let b = a.peer("node-b").await;
    let rx = Receiver::start().await;
    let id = id_of(
        &a.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    eventually(
        "node b to know the subscription",
        Duration::from_secs(5),
        || async { b.engine.directory().get(id.parse().ok()?).map(|_| ()) },
    )
    .await;
    for i in 0..5 {
        let r = b
            .ingest(&id, "x.y", format!("{{\"i\": {i}}}").as_bytes())
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    }
    let got = rx.wait_for(5, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 5);
    // Give a second sender time to show itself, then count: each message exactly once.
    actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    let mut ids: Vec<String> = rx
        .requests()
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_owned))
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (ids.len(), total),
        (5, 5),
        "five messages, each delivered once"
    );
}

/// A node that froze (or lost the network) in the middle of an ingest leaves a transaction
/// open that holds the change lock shared. Changes wait for it only until Postgres ends that
/// idle session, and ingests on the other nodes never wait behind a waiting change.
#[actix_web::test]
async fn an_ingest_transaction_left_open_by_a_frozen_node_holds_up_changes_briefly_and_ingests_never()
 {
    let a = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let id = id_of(
        &a.create_subscription(json!({"target_url": rx.url("/")}))
            .await,
    );
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&a.db)
        .await
        .expect("database name");
    // A session of Courier's own kind (same connection settings), stuck mid-ingest.
    let frozen = courier_actors::db::connect_and_migrate(
        &format!("{}/{name}", crate::support::db_server()),
        1,
    )
    .await
    .expect("connects");
    let mut tx = frozen.begin().await.expect("begin");
    courier_actors::db::changes::lock_shared(&mut tx)
        .await
        .expect("shared change lock");
    let started = std::time::Instant::now();
    let change = async {
        let r = a
            .call(
                "PATCH",
                &format!("/subscriptions/{id}"),
                Some(br#"{"event_types": ["x.*"]}"#),
            )
            .await;
        (r.status, started.elapsed())
    };
    let ingests = async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let mut slowest = Duration::ZERO;
        for i in 0..10 {
            let t = std::time::Instant::now();
            let r = a
                .ingest(&id, "x.y", format!("{{\"i\": {i}}}").as_bytes())
                .await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
            slowest = slowest.max(t.elapsed());
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        slowest
    };
    let ((status, took), slowest) = futures_util::future::join(change, ingests).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the change is made once the idle session is ended"
    );
    assert!(took < Duration::from_secs(8), "the change waited {took:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "an ingest waited {slowest:?} behind the waiting change"
    );
    assert!(
        tx.commit().await.is_err(),
        "Postgres ended the idle transaction"
    );
}

/// One outcome for `shard` under an epoch no lease ever has, so it is refused (the fenced
/// write runs all the same).
fn outcome_for(shard: i32) -> courier_actors::messages::RecordOutcome {
    use courier_actors::db::outcomes::{AttemptRecord, OutcomeRow, StatusUpdate};
    let (delivery, now) = (uuid::Uuid::now_v7(), chrono::Utc::now());
    courier_actors::messages::RecordOutcome {
        subscription_id: uuid::Uuid::now_v7(),
        row: OutcomeRow {
            shard,
            epoch: -1,
            attempt: AttemptRecord {
                id: uuid::Uuid::now_v7(),
                delivery_id: delivery,
                attempt_number: 1,
                attempted_at: now,
                request_headers: "{}".into(),
                status_code: Some(200),
                response_body: None,
                response_body_base64: None,
                response_headers: None,
                duration_ms: 1,
                error_class: None,
                error_message: None,
                succeeded: true,
            },
            update: StatusUpdate {
                id: delivery,
                status: courier_actors::domain::DeliveryStatus::Succeeded,
                attempt_count: 1,
                next_attempt_at: None,
                last_attempt_at: now,
                last_status_code: Some(200),
                last_error: None,
            },
            health: None,
            concurrency: None,
        },
        schedule: None,
        mark: courier_actors::retry_store::Mark {
            shard: u16::try_from(shard).unwrap_or(0),
            delivery_id: delivery,
            attempt: 1,
            epoch: 1,
        },
        permit: None,
    }
}

/// A lease is handed back after a `Flush` of the outcomes recorded before it. The flush
/// waits for those, not for the queue to empty: under steady traffic (here: a later outcome
/// whose write is held up) it may never empty, and the lease would never be handed back.
#[actix_web::test]
async fn a_flush_waits_for_earlier_outcomes_only_not_for_the_queue_to_empty() {
    use actix::Actor as _;
    use courier_actors::messages::Flush;
    use courier_actors::persistence::PersistenceActor;
    let a = TestApp::spawn().await;
    let redis = courier_actors::cache::redis_pool(&crate::support::redis_url(), 2).expect("pool");
    let store = courier_actors::retry_store::RetryStore::new(redis, &a.redis_prefix, "flush-test");
    // As this node's persistence: the fenced write share-locks the shards rows it holds, so
    // a row locked here holds that shard's writes up.
    let node = a.engine.config().node_id.clone();
    let p = PersistenceActor::new(a.db.clone(), node, store, Duration::from_secs(60)).start();
    let lock = |shard: i32| {
        let db = a.db.clone();
        async move {
            let mut tx = db.begin().await.expect("begin");
            sqlx::query("SELECT 1 FROM shards WHERE shard = $1 FOR UPDATE")
                .bind(shard)
                .execute(&mut *tx)
                .await
                .expect("row lock");
            tx
        }
    };
    let (hold_0, hold_1) = (lock(0).await, lock(1).await);
    p.do_send(outcome_for(0));
    let flush = p.send(Flush);
    p.do_send(outcome_for(1));
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    hold_0.commit().await.expect("release shard 0");
    let flushed = actix_web::rt::time::timeout(Duration::from_secs(3), flush).await;
    assert!(
        flushed.is_ok(),
        "the flush resolves once the outcome before it is written, while a later one is still held up"
    );
    let early = actix_web::rt::time::timeout(Duration::from_millis(500), p.send(Flush)).await;
    assert!(
        early.is_err(),
        "a flush after the held-up outcome waits for it"
    );
    hold_1.commit().await.expect("release shard 1");
    let again = actix_web::rt::time::timeout(Duration::from_secs(5), p.send(Flush)).await;
    assert!(
        again.is_ok(),
        "and the next flush once that one is written too"
    );
}

/// A shard handed back goes to the node below its fair share (which takes free shards at
/// once); a node already at its share, which takes only shards free for two ticks, leaves it
/// alone — else nodes at their share pass released shards back and forth, each handover
/// with attempts in flight.
#[actix_web::test]
async fn a_released_shard_is_not_taken_at_once_by_a_node_at_its_share() {
    use courier_actors::db::shards;
    let url = format!(
        "{}/courier_test_{}",
        crate::support::db_server(),
        uuid::Uuid::new_v4().simple()
    );
    let db = courier_actors::db::connect_and_migrate(&url, 2)
        .await
        .expect("fresh database");
    let taken = shards::acquire(&db, "a", 1, 3.0, 0.0, false)
        .await
        .expect("acquire");
    assert_eq!(taken.len(), 1);
    let released = taken[0];
    shards::release(&db, "a", &taken).await.expect("release");
    // A node at its share: only shards whose lease ended two ticks (here 0.5 s) ago.
    let at_share = shards::acquire(&db, "b", 64, 3.0, 0.5, false)
        .await
        .expect("acquire");
    assert!(
        at_share.iter().all(|r| r.shard != released.shard),
        "a node at its share does not grab a shard just handed back"
    );
    // The node below its share takes it at once.
    let below = shards::acquire(&db, "c", 1, 3.0, 0.0, false)
        .await
        .expect("acquire");
    assert_eq!(
        below.iter().map(|r| r.shard).collect::<Vec<_>>(),
        vec![released.shard]
    );
    db.close().await;
}

#[actix_web::test]
async fn a_starting_node_takes_each_shard_once_not_twice_under_two_epochs() {
    let mut app = TestApp::spawn().await;
    let per_epoch = "SELECT count(*) FROM shards WHERE epoch = 1";
    assert_eq!(
        app.count(per_epoch).await,
        64,
        "one epoch per shard after the first start"
    );
    assert_eq!(app.count("SELECT max(epoch) FROM shards").await, 1);
    app.stop().await;
    app.start_again().await;
    assert_eq!(
        app.count("SELECT max(epoch) FROM shards").await,
        2,
        "a restart reclaims each shard once"
    );
}
