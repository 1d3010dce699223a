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
