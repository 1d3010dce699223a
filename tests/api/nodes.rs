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
