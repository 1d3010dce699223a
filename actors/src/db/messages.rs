//! Messages and the ingest write: a batch of accepted events (messages, their deliveries and
//! their idempotency records) goes to Postgres in one transaction, so concurrent ingests
//! share one commit.
//!
//! The transaction holds the change lock shared and reads each target subscription's status
//! itself: a delivery's first status (`pending`, `paused`, `filtered`) is decided from the
//! row as it is at commit, never from a node's possibly older copy, and a subscription
//! deleted meanwhile gets no delivery.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::subscriptions::Tx;
use crate::domain::{DeliveryStatus, SubscriptionStatus};

/// A message to store: the payload is the producer's JSON text, kept byte for byte.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: Uuid,
    /// The application it belongs to (its deliveries too).
    pub application_id: Uuid,
    pub event_type: Arc<str>,
    pub payload: Arc<str>,
    pub subscription_id: Option<Uuid>,
    /// Deliveries with the same key to one subscription go one after another.
    pub ordering_key: Option<Arc<str>>,
}

/// A subscription an ingest addresses; `wanted` is false when its filter refuses the event
/// (the delivery is then recorded as `filtered`).
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub delivery_id: Uuid,
    pub subscription_id: Uuid,
    pub wanted: bool,
}

/// One ingest request's writes.
#[derive(Debug, Clone)]
pub struct IngestItem {
    pub message: NewMessage,
    pub targets: Vec<Target>,
    /// `(scope, key)` of an `Idempotency-Key`.
    pub idempotency: Option<(String, String)>,
}

/// What an ingest created; also what an `Idempotency-Key` remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub message_id: Uuid,
    pub deliveries: Vec<ReceiptDelivery>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptDelivery {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub status: DeliveryStatus,
}

/// What became of an item: stored, or a repeat of an `Idempotency-Key` whose first answer
/// stands (as it was remembered).
#[derive(Debug, Clone, PartialEq)]
pub enum IngestResult {
    Stored(Receipt),
    Repeat(Value),
}

/// Stores a batch in one transaction; every answer is known before it commits.
pub async fn insert_batch(
    pool: &PgPool,
    items: &[IngestItem],
    idempotency_ttl_secs: f64,
) -> Result<Vec<IngestResult>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::changes::lock_shared(&mut tx).await?;
    let receipts = decide(&mut tx, items).await?;
    let claims = claim_idempotency_keys(&mut tx, items, &receipts, idempotency_ttl_secs).await?;
    let stored: Vec<(&IngestItem, &Receipt)> = items
        .iter()
        .zip(&receipts)
        .zip(&claims)
        .filter(|(_, c)| c.is_none())
        .map(|(ir, _)| ir)
        .collect();
    insert_messages_and_deliveries(&mut tx, &stored).await?;
    tx.commit().await?;
    Ok(receipts
        .into_iter()
        .zip(claims)
        .map(|(r, c)| match c {
            None => IngestResult::Stored(r),
            Some(first) => IngestResult::Repeat(first),
        })
        .collect())
}

/// Each item's deliveries and their first statuses, from the subscription rows as they are.
async fn decide(tx: &mut Tx<'_>, items: &[IngestItem]) -> Result<Vec<Receipt>, sqlx::Error> {
    let mut ids: Vec<Uuid> = items
        .iter()
        .flat_map(|i| i.targets.iter().map(|t| t.subscription_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let live: HashMap<Uuid, (Uuid, SubscriptionStatus)> = super::subscriptions::statuses(tx, &ids)
        .await?
        .into_iter()
        .filter(|s| !s.deleted)
        .map(|s| {
            let status =
                SubscriptionStatus::parse(&s.status).unwrap_or(SubscriptionStatus::Disabled);
            (s.id, (s.application_id, status))
        })
        .collect();
    Ok(items
        .iter()
        .map(|item| Receipt {
            message_id: item.message.id,
            deliveries: item
                .targets
                .iter()
                .filter_map(|t| {
                    // A subscription of another application never gets a delivery.
                    let (_, sub_status) = live
                        .get(&t.subscription_id)
                        .filter(|(app, _)| *app == item.message.application_id)?;
                    let status = match (t.wanted, sub_status) {
                        (false, _) => DeliveryStatus::Filtered,
                        (true, SubscriptionStatus::Active) => DeliveryStatus::Pending,
                        (true, _) => DeliveryStatus::Paused,
                    };
                    Some(ReceiptDelivery {
                        id: t.delivery_id,
                        subscription_id: t.subscription_id,
                        status,
                    })
                })
                .collect(),
        })
        .collect())
}

/// For each item, `None` when it may be stored (no key, or the key was free or expired), or
/// the first answer remembered for its key.
async fn claim_idempotency_keys(
    tx: &mut Tx<'_>,
    items: &[IngestItem],
    receipts: &[Receipt],
    ttl_secs: f64,
) -> Result<Vec<Option<Value>>, sqlx::Error> {
    let mut seen = HashSet::new();
    let (mut scopes, mut keys, mut answers) = (Vec::new(), Vec::new(), Vec::new());
    for (item, receipt) in items.iter().zip(receipts) {
        if let Some((scope, key)) = &item.idempotency
            && seen.insert((scope.as_str(), key.as_str()))
        {
            scopes.push(scope.clone());
            keys.push(key.clone());
            answers.push(serde_json::to_value(receipt).unwrap_or(Value::Null));
        }
    }
    if scopes.is_empty() {
        return Ok(vec![None; items.len()]);
    }
    let claimed: Vec<(String, String)> = sqlx::query_as(
        "INSERT INTO idempotency_keys (scope, key, response) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::jsonb[]) \
         ON CONFLICT (scope, key) DO UPDATE SET response = EXCLUDED.response, created_at = now() \
         WHERE idempotency_keys.created_at < now() - make_interval(secs => $4) \
         RETURNING scope, key",
    )
    .bind(&scopes)
    .bind(&keys)
    .bind(&answers)
    .bind(ttl_secs)
    .fetch_all(&mut **tx)
    .await?;
    let mut free: HashSet<(String, String)> = claimed.into_iter().collect();
    let remembered = remembered_answers(tx, &scopes, &keys).await?;
    Ok(items
        .iter()
        .map(|i| {
            let (scope, key) = i.idempotency.as_ref()?;
            let pair = (scope.clone(), key.clone());
            // The first item holding a claimed key takes it; later ones are repeats.
            if free.remove(&pair) {
                None
            } else {
                Some(remembered.get(&pair).cloned().unwrap_or(Value::Null))
            }
        })
        .collect())
}

/// The answers stored for these keys, read inside the ingest's own transaction (so an item
/// that turns out to be a repeat never needs a read after the commit).
async fn remembered_answers(
    tx: &mut Tx<'_>,
    scopes: &[String],
    keys: &[String],
) -> Result<HashMap<(String, String), Value>, sqlx::Error> {
    let rows: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT k.scope, k.key, k.response FROM idempotency_keys k \
         JOIN UNNEST($1::text[], $2::text[]) AS p(scope, key) ON k.scope = p.scope AND k.key = p.key",
    )
    .bind(scopes)
    .bind(keys)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|(s, k, v)| ((s, k), v)).collect())
}

/// Messages and their deliveries in one statement (one round trip).
async fn insert_messages_and_deliveries(
    tx: &mut Tx<'_>,
    items: &[(&IngestItem, &Receipt)],
) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = items.iter().map(|(i, _)| i.message.id).collect();
    let apps: Vec<Uuid> = items
        .iter()
        .map(|(i, _)| i.message.application_id)
        .collect();
    let types: Vec<&str> = items.iter().map(|(i, _)| &*i.message.event_type).collect();
    let payloads: Vec<&str> = items.iter().map(|(i, _)| &*i.message.payload).collect();
    let subs: Vec<Option<Uuid>> = items
        .iter()
        .map(|(i, _)| i.message.subscription_id)
        .collect();
    let rows: Vec<(&IngestItem, &ReceiptDelivery)> = items
        .iter()
        .flat_map(|(i, r)| r.deliveries.iter().map(move |d| (*i, d)))
        .collect();
    let d_ids: Vec<Uuid> = rows.iter().map(|(_, d)| d.id).collect();
    let d_messages: Vec<Uuid> = rows.iter().map(|(i, _)| i.message.id).collect();
    let d_apps: Vec<Uuid> = rows.iter().map(|(i, _)| i.message.application_id).collect();
    let d_keys: Vec<Option<&str>> = rows
        .iter()
        .map(|(i, _)| i.message.ordering_key.as_deref())
        .collect();
    let d_subs: Vec<Uuid> = rows.iter().map(|(_, d)| d.subscription_id).collect();
    let d_types: Vec<&str> = rows.iter().map(|(i, _)| &*i.message.event_type).collect();
    let d_statuses: Vec<&str> = rows.iter().map(|(_, d)| d.status.as_str()).collect();
    let d_due: Vec<Option<DateTime<Utc>>> = rows
        .iter()
        .map(|(_, d)| (d.status == DeliveryStatus::Pending).then(Utc::now))
        .collect();
    sqlx::query(
        "WITH m AS (INSERT INTO messages (id, application_id, event_type, payload, subscription_id) \
           SELECT id, app, et, p::json, sid FROM UNNEST($1::uuid[], $11::uuid[], $2::text[], $3::text[], $4::uuid[]) \
           AS t(id, app, et, p, sid)) \
         INSERT INTO deliveries (id, message_id, subscription_id, event_type, status, next_attempt_at, \
           application_id, ordering_key) \
         SELECT * FROM UNNEST($5::uuid[], $6::uuid[], $7::uuid[], $8::text[], $9::text[], \
           $10::timestamptz[], $12::uuid[], $13::text[])",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&payloads)
    .bind(&subs)
    .bind(&d_ids)
    .bind(&d_messages)
    .bind(&d_subs)
    .bind(&d_types)
    .bind(&d_statuses)
    .bind(&d_due)
    .bind(&apps)
    .bind(&d_apps)
    .bind(&d_keys)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub application_id: Uuid,
    pub event_type: String,
    pub payload: String,
    pub subscription_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, application_id, event_type, payload::text AS payload, subscription_id, created_at \
         FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}
