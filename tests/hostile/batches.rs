//! One bad item never fails the batch it shares. The routes refuse every hostile body they
//! can recognise, so these tests go one level down and hand the persistence code items
//! that only Postgres refuses — the ones the issue saw: a payload nested 200,000 deep
//! (Postgres' json parser runs out of stack), a raw control character in a payload, a NUL
//! in a receiver's answer text — in the middle of ordinary ones, in one call: the ordinary
//! items are committed, the bad one alone is refused (an ingest) or written without the
//! receiver's texts (an outcome).

use std::sync::Arc;

use chrono::Utc;
use courier_actors::db::messages::{IngestItem, IngestResult, NewMessage, Target};
use courier_actors::db::outcomes::{AttemptRecord, OutcomeRow, StatusUpdate};
use courier_actors::domain::{DeliveryStatus, shard_of};
use courier_actors::persistence::{IngestError, ingest, outcomes};
use serde_json::json;
use uuid::Uuid;

use crate::producers::nested;
use crate::support::{TestApp, id_of};
use crate::traffic::spawn;

const NODE: &str = "hostile-batches";
/// The built-in `default` application.
const DEFAULT_APPLICATION: Uuid = Uuid::from_u128(1);

fn item(sub: Uuid, payload: String) -> IngestItem {
    IngestItem {
        message: NewMessage {
            id: Uuid::now_v7(),
            application_id: DEFAULT_APPLICATION,
            event_type: Arc::from("batch.test"),
            payload: Arc::from(payload),
            subscription_id: Some(sub),
            ordering_key: None,
        },
        targets: vec![Target {
            delivery_id: Uuid::now_v7(),
            subscription_id: sub,
            wanted: true,
        }],
        idempotency: None,
    }
}

/// A paused subscription (its deliveries are held, so nothing is sent meanwhile).
async fn paused_subscription(app: &TestApp) -> Uuid {
    let sub = id_of(
        &app.create_subscription(json!({"target_url": "http://127.0.0.1:9/none"}))
            .await,
    );
    let a = app
        .call("POST", &format!("/subscriptions/{sub}/pause"), None)
        .await;
    assert_eq!(a.status.as_u16(), 200, "{:?}", a.body);
    sub.parse().expect("uuid")
}

#[actix_web::test]
async fn a_payload_postgres_refuses_is_refused_alone_and_its_group_commit_goes_through() {
    let app = spawn(&[("COURIER_NODE_ID", NODE)]).await;
    let sub = paused_subscription(&app).await;
    let mut items: Vec<IngestItem> = (0..60)
        .map(|i| item(sub, format!("{{\"ordinary\":{i}}}")))
        .collect();
    let too_deep = String::from_utf8(nested(200_000)).expect("ascii");
    items[17] = item(sub, too_deep);
    items[42] = item(sub, "\"a\u{1}b\"".to_owned());
    let results = ingest::commit(&app.db, &items, 3600.0).await;
    let mut stored = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match (i, r) {
            (17 | 42, Err(IngestError::Rejected(reason))) => assert!(!reason.is_empty()),
            (17 | 42, other) => panic!("item {i} should be refused alone: {other:?}"),
            (_, Ok(IngestResult::Stored(receipt))) => stored.push(receipt.message_id),
            (_, other) => panic!("item {i} should be committed: {other:?}"),
        }
    }
    assert_eq!(stored.len(), 58);
    let in_db: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM messages WHERE id = ANY($1)")
        .bind(&stored)
        .fetch_all(&app.db)
        .await
        .expect("messages");
    assert_eq!(in_db.len(), 58, "every ordinary item is committed");
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 58);
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'paused'")
            .await,
        58
    );
}

fn outcome(app: &TestApp, delivery: Uuid, sub: Uuid, body: &str) -> OutcomeRow {
    let shard = shard_of(sub);
    let now = Utc::now();
    OutcomeRow {
        shard: i32::from(shard),
        epoch: app
            .engine
            .leases()
            .current(shard)
            .expect("this node holds the shard"),
        attempt: AttemptRecord {
            id: Uuid::now_v7(),
            delivery_id: delivery,
            attempt_number: 1,
            attempted_at: now,
            request_headers: "{}".into(),
            status_code: Some(200),
            response_body: Some(body.to_owned()),
            response_body_base64: None,
            response_headers: Some(json!({"x-a": body}).to_string()),
            duration_ms: 3,
            error_class: None,
            error_message: None,
            succeeded: true,
        },
        update: StatusUpdate {
            id: delivery,
            status: DeliveryStatus::Succeeded,
            attempt_count: 1,
            next_attempt_at: None,
            last_attempt_at: now,
            last_status_code: Some(200),
            last_error: None,
        },
        health: None,
        concurrency: None,
    }
}

#[actix_web::test]
async fn an_answer_postgres_cannot_store_is_written_without_it_and_its_batch_goes_through() {
    let app = spawn(&[("COURIER_NODE_ID", NODE)]).await;
    let sub = paused_subscription(&app).await;
    let items: Vec<IngestItem> = (0..40).map(|i| item(sub, format!("{i}"))).collect();
    let deliveries: Vec<Uuid> = items.iter().map(|i| i.targets[0].delivery_id).collect();
    for r in ingest::commit(&app.db, &items, 3600.0).await {
        assert!(matches!(r, Ok(IngestResult::Stored(_))), "{r:?}");
    }
    // What `courier_actors::answer` would never let through: a NUL in text bound for Postgres.
    let rows: Vec<OutcomeRow> = deliveries
        .iter()
        .enumerate()
        .map(|(i, d)| outcome(&app, *d, sub, if i == 5 { "ok\0" } else { "ok" }))
        .collect();
    let written = outcomes::write(&app.db, NODE, &rows)
        .await
        .expect("written");
    assert!(
        written.refused.is_empty() && written.dropped.is_empty(),
        "{written:?}"
    );
    let (texts, notes): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE response_body = 'ok'), \
         count(*) FILTER (WHERE response_body IS NULL AND error_message LIKE 'the receiver''s answer could not be stored%') \
         FROM attempts",
    )
    .fetch_one(&app.db)
    .await
    .expect("attempts");
    assert_eq!(
        (texts, notes),
        (39, 1),
        "39 answers kept, the bad one noted"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
            .await,
        40,
        "every delivery's outcome is recorded, the bad one's too"
    );
}

/// Repeats of an `Idempotency-Key` inside one group commit, and of a key an earlier commit
/// claimed, are answered with the first answer, read inside the same transaction: there is
/// no read after the commit that could fail and turn committed ingests into 503s.
#[actix_web::test]
async fn repeats_in_one_group_commit_get_the_first_answer_from_inside_the_transaction() {
    let app = spawn(&[("COURIER_NODE_ID", NODE)]).await;
    let sub = paused_subscription(&app).await;
    let keyed = |key: &str| {
        let mut i = item(sub, "{}".to_owned());
        i.idempotency = Some(("ingest:batch".to_owned(), key.to_owned()));
        i
    };
    let first = ingest::commit(&app.db, &[keyed("earlier")], 3600.0).await;
    let Some(Ok(IngestResult::Stored(earlier))) = first.into_iter().next() else {
        panic!("the earlier key is claimed");
    };
    let items = vec![
        keyed("k"),
        item(sub, "1".to_owned()),
        keyed("k"),
        keyed("earlier"),
        keyed("j"),
    ];
    let results = ingest::commit(&app.db, &items, 3600.0).await;
    let stored = |i: usize| match &results[i] {
        Ok(IngestResult::Stored(r)) => r.message_id,
        other => panic!("item {i} should be stored: {other:?}"),
    };
    let repeat = |i: usize| match &results[i] {
        Ok(IngestResult::Repeat(v)) => v["message_id"].as_str().unwrap_or("").to_owned(),
        other => panic!("item {i} should be a repeat: {other:?}"),
    };
    assert_eq!(
        repeat(2),
        stored(0).to_string(),
        "the same key in the same commit"
    );
    assert_eq!(
        repeat(3),
        earlier.message_id.to_string(),
        "a key claimed before"
    );
    assert_ne!(
        stored(1),
        stored(4),
        "items without a repeated key are stored"
    );
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 4);
}
