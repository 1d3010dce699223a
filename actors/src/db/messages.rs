//! Messages and the ingest write: a batch of accepted events (messages, their deliveries and
//! their idempotency records) goes to Postgres in one transaction, so concurrent ingests
//! share one commit.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::DeliveryStatus;

/// A message to store: the payload is the producer's JSON text, kept byte for byte.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: Uuid,
    pub event_type: Arc<str>,
    pub payload: Arc<str>,
    pub subscription_id: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub status: DeliveryStatus,
}

/// The answer to remember for an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub scope: String,
    pub key: String,
    pub response: Value,
}

/// One ingest request's writes.
#[derive(Debug, Clone)]
pub struct IngestItem {
    pub message: NewMessage,
    pub deliveries: Vec<NewDelivery>,
    pub idempotency: Option<IdempotencyRecord>,
}

/// What became of an item: stored, or a repeat of an `Idempotency-Key` whose first answer
/// stands.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestResult {
    Stored,
    Repeat(Value),
}

/// Stores a batch in one transaction. Items whose idempotency key is already taken (by an
/// earlier request, or an earlier item of this batch) store nothing and get the first answer.
pub async fn insert_batch(
    pool: &PgPool,
    items: &[IngestItem],
    idempotency_ttl_secs: f64,
) -> Result<Vec<IngestResult>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let won = claim_idempotency_keys(&mut tx, items, idempotency_ttl_secs).await?;
    let stored: Vec<&IngestItem> = items
        .iter()
        .zip(&won)
        .filter(|(_, w)| **w)
        .map(|(i, _)| i)
        .collect();
    insert_messages_and_deliveries(&mut tx, &stored).await?;
    tx.commit().await?;
    let mut results = Vec::with_capacity(items.len());
    for (item, won) in items.iter().zip(won) {
        results.push(match (&item.idempotency, won) {
            (_, true) | (None, _) => IngestResult::Stored,
            (Some(rec), false) => IngestResult::Repeat(
                stored_answer(pool, &rec.scope, &rec.key)
                    .await?
                    .unwrap_or(Value::Null),
            ),
        });
    }
    Ok(results)
}

/// For each item, whether it may be stored: no key, or the key was free (or expired).
async fn claim_idempotency_keys(
    tx: &mut Transaction<'_, Postgres>,
    items: &[IngestItem],
    ttl_secs: f64,
) -> Result<Vec<bool>, sqlx::Error> {
    let mut seen = HashSet::new();
    let (mut scopes, mut keys, mut answers) = (Vec::new(), Vec::new(), Vec::new());
    for rec in items.iter().filter_map(|i| i.idempotency.as_ref()) {
        if seen.insert((rec.scope.as_str(), rec.key.as_str())) {
            scopes.push(rec.scope.clone());
            keys.push(rec.key.clone());
            answers.push(rec.response.clone());
        }
    }
    if scopes.is_empty() {
        return Ok(vec![true; items.len()]);
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
    Ok(items
        .iter()
        .map(|i| match &i.idempotency {
            None => true,
            // The first item holding a claimed key takes it; later ones are repeats.
            Some(r) => free.remove(&(r.scope.clone(), r.key.clone())),
        })
        .collect())
}

/// Messages and their deliveries in one statement (one round trip).
async fn insert_messages_and_deliveries(
    tx: &mut Transaction<'_, Postgres>,
    items: &[&IngestItem],
) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = items.iter().map(|i| i.message.id).collect();
    let types: Vec<&str> = items.iter().map(|i| &*i.message.event_type).collect();
    let payloads: Vec<&str> = items.iter().map(|i| &*i.message.payload).collect();
    let subs: Vec<Option<Uuid>> = items.iter().map(|i| i.message.subscription_id).collect();
    let rows: Vec<(&IngestItem, &NewDelivery)> = items
        .iter()
        .flat_map(|i| i.deliveries.iter().map(move |d| (*i, d)))
        .collect();
    let d_ids: Vec<Uuid> = rows.iter().map(|(_, d)| d.id).collect();
    let d_messages: Vec<Uuid> = rows.iter().map(|(i, _)| i.message.id).collect();
    let d_subs: Vec<Uuid> = rows.iter().map(|(_, d)| d.subscription_id).collect();
    let d_types: Vec<&str> = rows.iter().map(|(i, _)| &*i.message.event_type).collect();
    let d_statuses: Vec<&str> = rows.iter().map(|(_, d)| d.status.as_str()).collect();
    sqlx::query(
        "WITH m AS (INSERT INTO messages (id, event_type, payload, subscription_id) \
           SELECT id, et, p::json, sid FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::uuid[]) AS t(id, et, p, sid)) \
         INSERT INTO deliveries (id, message_id, subscription_id, event_type, status, next_attempt_at) \
         SELECT id, mid, sid, et, st, CASE WHEN st = 'pending' THEN now() END \
         FROM UNNEST($5::uuid[], $6::uuid[], $7::uuid[], $8::text[], $9::text[]) AS t(id, mid, sid, et, st)",
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
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The remembered answer for a key, if it is still fresh.
pub async fn stored_answer(
    pool: &PgPool,
    scope: &str,
    key: &str,
) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar("SELECT response FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .fetch_optional(pool)
        .await
}

/// The remembered answer for a key younger than `ttl_secs`.
pub async fn fresh_answer(
    pool: &PgPool,
    scope: &str,
    key: &str,
    ttl_secs: f64,
) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT response FROM idempotency_keys WHERE scope = $1 AND key = $2 \
         AND created_at >= now() - make_interval(secs => $3)",
    )
    .bind(scope)
    .bind(key)
    .bind(ttl_secs)
    .fetch_optional(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub event_type: String,
    pub payload: String,
    pub subscription_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, event_type, payload::text AS payload, subscription_id, created_at FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}
