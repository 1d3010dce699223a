//! Deliveries (one message to one subscription) and their attempts: the log the API reads,
//! the batched outcome writes of the persistence actor, and the queries that hand work back
//! to subscription actors (due deliveries, held deliveries, manual retry, recover).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::domain::DeliveryStatus;
use crate::job::DeliveryJob;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub message_id: Uuid,
    pub subscription_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub attempt_count: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub attempt_number: i32,
    pub attempted_at: DateTime<Utc>,
    pub request_headers: Json<Value>,
    pub status_code: Option<i32>,
    pub response_body: Option<String>,
    pub duration_ms: i32,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub succeeded: bool,
}

macro_rules! delivery_columns {
    () => {
        "d.id, d.message_id, d.subscription_id, d.event_type, d.status, d.attempt_count, d.next_attempt_at, \
         d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at"
    };
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries d WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn for_message(pool: &PgPool, message_id: Uuid) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries d WHERE d.message_id = $1 ORDER BY d.id"
    ))
    .bind(message_id)
    .fetch_all(pool)
    .await
}

/// Filters of a subscription's delivery log.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A page of a subscription's deliveries, newest first.
pub async fn list_for_subscription(
    pool: &PgPool,
    subscription_id: Uuid,
    filter: &LogFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries d WHERE d.subscription_id = $1 \
         AND ($2::text IS NULL OR d.status = $2) AND ($3::text IS NULL OR d.event_type = $3) \
         AND ($4::uuid IS NULL OR d.id >= $4) AND ($5::uuid IS NULL OR d.id < $5) \
         AND ($6::uuid IS NULL OR d.id < $6) ORDER BY d.id DESC LIMIT $7"
    ))
    .bind(subscription_id)
    .bind(filter.status.map(DeliveryStatus::as_str))
    .bind(&filter.event_type)
    .bind(filter.since.map(crate::domain::uuid_floor))
    .bind(filter.until.map(crate::domain::uuid_floor))
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every attempt of these deliveries, in attempt order.
pub async fn attempts_for(
    pool: &PgPool,
    delivery_ids: &[Uuid],
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, delivery_id, attempt_number, attempted_at, request_headers, status_code, response_body, \
         duration_ms, error_class, error_message, succeeded FROM attempts WHERE delivery_id = ANY($1) \
         ORDER BY delivery_id, attempt_number, attempted_at",
    )
    .bind(delivery_ids)
    .fetch_all(pool)
    .await
}

pub async fn payloads_for(
    pool: &PgPool,
    message_ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, payload::text FROM messages WHERE id = ANY($1)")
        .bind(message_ids)
        .fetch_all(pool)
        .await
}

type JobRow = (
    Uuid,
    Uuid,
    Uuid,
    String,
    String,
    i32,
    i32,
    Option<DateTime<Utc>>,
);

/// Loads the unfinished deliveries among `ids`, with their payloads, as jobs.
pub async fn load_jobs(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<DeliveryJob>, sqlx::Error> {
    let rows: Vec<JobRow> = sqlx::query_as(
        "SELECT d.id, d.message_id, d.subscription_id, d.event_type, m.payload::text, d.attempt_count, \
         d.attempt_base, d.next_attempt_at FROM deliveries d JOIN messages m ON m.id = d.message_id \
         WHERE d.id = ANY($1) AND d.status IN ('pending', 'retrying')",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, message_id, subscription_id, event_type, payload, count, base, due)| {
                DeliveryJob {
                    delivery_id: id,
                    message_id,
                    subscription_id,
                    event_type: event_type.into(),
                    payload: Some(Arc::from(payload)),
                    attempts_made: count,
                    attempt_base: base,
                    due_ms: due.map_or(0, |d| d.timestamp_millis()),
                }
            },
        )
        .collect())
}

/// Unfinished deliveries due by `horizon` for the subscriptions `owner` holds, oldest first:
/// the sweeper's query.
pub async fn due_for_owner(
    pool: &PgPool,
    owner: &str,
    horizon: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, Uuid, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.subscription_id, d.next_attempt_at FROM deliveries d \
         JOIN subscriptions s ON s.id = d.subscription_id \
         WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $2 \
         AND s.owner_node = $1 AND s.deleted_at IS NULL \
         ORDER BY d.next_attempt_at LIMIT $3",
    )
    .bind(owner)
    .bind(horizon)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The change an attempt makes to its delivery.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    pub id: Uuid,
    pub status: DeliveryStatus,
    pub attempt_count: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
}

/// One attempt, as logged.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub attempt_number: i32,
    pub attempted_at: DateTime<Utc>,
    /// The headers sent, as a JSON object's text.
    pub request_headers: String,
    pub status_code: Option<i32>,
    pub response_body: Option<String>,
    pub duration_ms: i32,
    pub error_class: Option<&'static str>,
    pub error_message: Option<String>,
    pub succeeded: bool,
}

/// Writes a batch of attempts and delivery updates in one transaction. `updates` must hold
/// at most one entry per delivery (the caller keeps the latest). Idempotent: a batch whose
/// commit succeeded but whose answer was lost (Postgres died at that moment) can be written
/// again.
pub async fn apply_outcomes(
    pool: &PgPool,
    attempts: &[AttemptRecord],
    updates: &[StatusUpdate],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // An outcome lost to a Postgres crash only means the delivery is sent again (at least
    // once), so these commits need not wait for the disk; ingest commits always do.
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    if !attempts.is_empty() {
        insert_attempts(&mut tx, attempts).await?;
    }
    if !updates.is_empty() {
        update_deliveries(&mut tx, updates).await?;
    }
    tx.commit().await
}

async fn insert_attempts(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    a: &[AttemptRecord],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO attempts (id, delivery_id, attempt_number, attempted_at, request_headers, status_code, \
         response_body, duration_ms, error_class, error_message, succeeded) \
         SELECT id, did, n, at, h::json, sc, rb, ms, ec, em, ok \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::timestamptz[], $5::text[], $6::int[], \
         $7::text[], $8::int[], $9::text[], $10::text[], $11::bool[]) AS t(id, did, n, at, h, sc, rb, ms, ec, em, ok) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(a.iter().map(|x| x.id).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.delivery_id).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.attempt_number).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.attempted_at).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.request_headers.as_str()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.status_code).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.response_body.clone()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.duration_ms).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.error_class).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.error_message.clone()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.succeeded).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn update_deliveries(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    u: &[StatusUpdate],
) -> Result<(), sqlx::Error> {
    // Only unfinished rows change, so a delete (which fails them) wins over a late outcome. A
    // delivery held while its attempt was in flight stays held unless that attempt finished it.
    sqlx::query(
        "UPDATE deliveries d SET \
         status = CASE WHEN d.status = 'paused' AND u.st IN ('pending', 'retrying') THEN 'paused' ELSE u.st END, \
         next_attempt_at = CASE WHEN d.status = 'paused' AND u.st IN ('pending', 'retrying') THEN NULL ELSE u.na END, \
         attempt_count = GREATEST(d.attempt_count, u.ac), \
         last_attempt_at = u.la, last_status_code = u.sc, last_error = u.le, updated_at = now() \
         FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::int[], $7::text[]) \
         AS u(id, st, ac, na, la, sc, le) \
         WHERE d.id = u.id AND d.status IN ('pending', 'delivering', 'retrying', 'paused')",
    )
    .bind(u.iter().map(|x| x.id).collect::<Vec<_>>())
    .bind(u.iter().map(|x| x.status.as_str()).collect::<Vec<_>>())
    .bind(u.iter().map(|x| x.attempt_count).collect::<Vec<_>>())
    .bind(u.iter().map(|x| x.next_attempt_at).collect::<Vec<_>>())
    .bind(u.iter().map(|x| x.last_attempt_at).collect::<Vec<_>>())
    .bind(u.iter().map(|x| x.last_status_code).collect::<Vec<_>>())
    .bind(u.iter().map(|x| x.last_error.clone()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Holds unfinished deliveries of a paused or disabled subscription (status `paused`).
pub async fn hold(pool: &PgPool, ids: &[Uuid]) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE deliveries SET status = 'paused', next_attempt_at = NULL, updated_at = now() \
         WHERE id = ANY($1) AND status IN ('pending', 'retrying', 'delivering')",
    )
    .bind(ids)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Holds every unfinished delivery of a subscription.
pub async fn hold_all(pool: &PgPool, subscription_id: Uuid) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE deliveries SET status = 'paused', next_attempt_at = NULL, updated_at = now() \
         WHERE subscription_id = $1 AND status IN ('pending', 'retrying', 'delivering')",
    )
    .bind(subscription_id)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Releases a subscription's held deliveries: they become due now. Returns their ids.
pub async fn release_held(pool: &PgPool, subscription_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), updated_at = now() \
         WHERE subscription_id = $1 AND status = 'paused' RETURNING id",
    )
    .bind(subscription_id)
    .fetch_all(pool)
    .await
}

/// Manual retry: due now, whatever its state, with a fresh retry budget. Returns the
/// subscription when the delivery exists.
pub async fn requeue(pool: &PgPool, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), attempt_base = attempt_count, \
         updated_at = now() WHERE id = $1 RETURNING subscription_id",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Re-queues every failed delivery of a subscription created at or after `since`.
pub async fn recover(
    pool: &PgPool,
    subscription_id: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), attempt_base = attempt_count, \
         updated_at = now() WHERE subscription_id = $1 AND status = 'failed' AND created_at >= $2 RETURNING id",
    )
    .bind(subscription_id)
    .bind(since)
    .fetch_all(pool)
    .await
}
