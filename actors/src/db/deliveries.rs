//! Deliveries (one message to one subscription) and their attempts: the log the API reads,
//! the queries that hand work to subscription actors (a subscription's due backlog, jobs by
//! id, subscriptions with due work), and the operator's and lifecycle's bulk changes.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use super::subscriptions::Tx;
use crate::domain::DeliveryStatus;
use crate::job::DeliveryJob;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub application_id: Uuid,
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
    pub ordering_key: Option<String>,
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
    pub response_body_base64: Option<String>,
    pub response_headers: Option<Json<Value>>,
    pub duration_ms: i32,
    pub error_class: Option<String>,
    pub error_message: Option<String>,
    pub succeeded: bool,
}

macro_rules! delivery_columns {
    () => {
        "d.id, d.application_id, d.message_id, d.subscription_id, d.event_type, d.status, d.attempt_count, d.next_attempt_at, \
         d.last_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at, d.ordering_key"
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

/// A page of an application's deliveries, newest first.
pub async fn list_for_application(
    pool: &PgPool,
    application_id: Uuid,
    filter: &LogFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM deliveries d WHERE d.application_id = $1 \
         AND ($2::text IS NULL OR d.status = $2) AND ($3::text IS NULL OR d.event_type = $3) \
         AND ($4::uuid IS NULL OR d.id >= $4) AND ($5::uuid IS NULL OR d.id < $5) \
         AND ($6::uuid IS NULL OR d.id < $6) ORDER BY d.id DESC LIMIT $7"
    ))
    .bind(application_id)
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
         response_body_base64, response_headers, duration_ms, error_class, error_message, succeeded \
         FROM attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt_number, attempted_at",
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

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    message_id: Uuid,
    subscription_id: Uuid,
    event_type: String,
    payload: String,
    attempt_count: i32,
    attempt_base: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    ordering_key: Option<String>,
}

fn job(row: JobRow) -> DeliveryJob {
    let JobRow {
        id,
        message_id,
        subscription_id,
        event_type,
        payload,
        attempt_count: count,
        attempt_base: base,
        next_attempt_at: due,
        ordering_key,
    } = row;
    DeliveryJob {
        delivery_id: id,
        message_id,
        subscription_id,
        event_type: event_type.into(),
        payload: Some(Arc::from(payload)),
        attempts_made: count,
        attempt_base: base,
        due_ms: due.map_or(0, |d| d.timestamp_millis()),
        ordering_key: ordering_key.map(Arc::from),
    }
}

crate::statement!(
    LOAD_JOBS = "SELECT d.id, d.message_id, d.subscription_id, d.event_type, m.payload::text AS payload, \
     d.attempt_count, d.attempt_base, d.next_attempt_at, d.ordering_key FROM deliveries d \
     JOIN messages m ON m.id = d.message_id WHERE d.id = ANY($1) AND d.status IN {DUE}"
);

/// Loads the deliveries among `ids` that may be sent, with their payloads, as jobs.
pub async fn load_jobs(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<DeliveryJob>, sqlx::Error> {
    let rows: Vec<JobRow> = sqlx::query_as(LOAD_JOBS.as_str())
        .bind(ids)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(job).collect())
}

crate::statement!(
    PAGE_DUE = "SELECT d.id, d.message_id, d.subscription_id, d.event_type, m.payload::text AS payload, \
     d.attempt_count, d.attempt_base, d.next_attempt_at, d.ordering_key FROM deliveries d \
     JOIN messages m ON m.id = d.message_id \
     WHERE d.subscription_id = $1 AND d.status IN {DUE} AND d.next_attempt_at <= $2 \
     AND ($3::timestamptz IS NULL OR (d.next_attempt_at, d.id) > ($3, $4)) \
     ORDER BY d.next_attempt_at, d.id LIMIT $5"
);

/// Where a subscription's backlog pager stands: after this `(due time, id)`.
pub type PageCursor = (DateTime<Utc>, Uuid);

/// The next page of one subscription's deliveries due by `horizon`, in due order after
/// `cursor`, with payloads, and the cursor after it: how an actor reads a backlog larger
/// than its memory.
pub async fn page_due(
    pool: &PgPool,
    subscription_id: Uuid,
    horizon: DateTime<Utc>,
    cursor: Option<PageCursor>,
    limit: i64,
) -> Result<(Vec<DeliveryJob>, Option<PageCursor>), sqlx::Error> {
    let rows: Vec<JobRow> = sqlx::query_as(PAGE_DUE.as_str())
        .bind(subscription_id)
        .bind(horizon)
        .bind(cursor.map(|c| c.0))
        .bind(cursor.map_or(Uuid::nil(), |c| c.1))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let next = rows.last().and_then(|r| Some((r.next_attempt_at?, r.id)));
    Ok((rows.into_iter().map(job).collect(), next))
}

crate::statement!(
    ORDERING_HEADS = "SELECT DISTINCT ON (d.ordering_key) d.id, d.message_id, d.subscription_id, \
     d.event_type, m.payload::text AS payload, d.attempt_count, d.attempt_base, d.next_attempt_at, \
     d.ordering_key, d.status FROM deliveries d JOIN messages m ON m.id = d.message_id \
     WHERE d.subscription_id = $1 AND d.ordering_key = ANY($2) AND d.status IN {UNFINISHED} \
     ORDER BY d.ordering_key, d.id"
);

/// One key's head: its oldest unfinished delivery, with the job when it may be sent
/// (pending or retrying; `None` while held).
pub type Head = (String, Uuid, Option<DeliveryJob>);

/// The head of each of `keys` for a subscription; keys without unfinished deliveries are
/// absent.
pub async fn ordering_heads(
    pool: &PgPool,
    subscription_id: Uuid,
    keys: &[String],
) -> Result<Vec<Head>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Head {
        #[sqlx(flatten)]
        job: JobRow,
        status: String,
    }
    let rows: Vec<Head> = sqlx::query_as(ORDERING_HEADS.as_str())
        .bind(subscription_id)
        .bind(keys)
        .fetch_all(pool)
        .await?;
    let due = |s: &str| DeliveryStatus::DUE.iter().any(|d| d.as_str() == s);
    Ok(rows
        .into_iter()
        .map(|h| {
            let key = h.job.ordering_key.clone().unwrap_or_default();
            let id = h.job.id;
            (key, id, due(&h.status).then(|| job(h.job)))
        })
        .collect())
}

crate::statement!(
    /// A loose index scan over `deliveries_due_by_subscription`: each step jumps to the next
    /// subscription id with a due delivery, so the cost grows with the number of such
    /// subscriptions, not with the size of any one backlog.
    WITH_DUE_WORK = "WITH RECURSIVE s(sub) AS ( \
       SELECT (SELECT subscription_id FROM deliveries WHERE status IN {DUE} \
               AND next_attempt_at <= $1 AND subscription_id > $2 ORDER BY subscription_id LIMIT 1) \
       UNION ALL \
       SELECT (SELECT subscription_id FROM deliveries WHERE status IN {DUE} \
               AND next_attempt_at <= $1 AND subscription_id > s.sub ORDER BY subscription_id LIMIT 1) \
       FROM s WHERE s.sub IS NOT NULL) \
     SELECT sub FROM s WHERE sub IS NOT NULL LIMIT $3"
);

/// Subscriptions with a delivery due by `horizon`, in id order after `after`: the sweeper's
/// query. It pages (keyset on the id) so every subscription is visited in turn.
pub async fn subscriptions_with_due_work(
    pool: &PgPool,
    horizon: DateTime<Utc>,
    after: Uuid,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(WITH_DUE_WORK.as_str())
        .bind(horizon)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await
}

crate::statement!(
    HOLD_ALL = "UPDATE deliveries SET status = {paused}, next_attempt_at = NULL, updated_at = now() \
     WHERE subscription_id = $1 AND status IN {UNFINISHED} AND status <> {paused}"
);

/// Holds every unfinished delivery of a subscription (part of a pause or disable).
pub async fn hold_all(tx: &mut Tx<'_>, subscription_id: Uuid) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(HOLD_ALL.as_str())
        .bind(subscription_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

crate::statement!(
    RELEASE_HELD = "UPDATE deliveries SET status = {pending}, next_attempt_at = now(), updated_at = now() \
     WHERE subscription_id = $1 AND status = {paused}"
);

/// Releases a subscription's held deliveries: due now (part of a resume).
pub async fn release_held(tx: &mut Tx<'_>, subscription_id: Uuid) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(RELEASE_HELD.as_str())
        .bind(subscription_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

crate::statement!(
    FAIL_UNFINISHED = "UPDATE deliveries SET status = {failed}, last_error = $2, \
     next_attempt_at = NULL, updated_at = now() \
     WHERE subscription_id = $1 AND status IN {UNFINISHED}"
);

/// Ends every unfinished delivery of a subscription as failed (part of a delete).
pub async fn fail_unfinished(
    tx: &mut Tx<'_>,
    subscription_id: Uuid,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(FAIL_UNFINISHED.as_str())
        .bind(subscription_id)
        .bind(reason)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

crate::statement!(
    /// Due now with a fresh retry budget, or held when the subscription is not active: the
    /// status comes from the subscription row read under the shared change lock, so a resume
    /// running at the same time cannot leave it held.
    REQUEUE = "UPDATE deliveries d SET \
     status = CASE WHEN s.status = 'active' THEN {pending} ELSE {paused} END, \
     next_attempt_at = CASE WHEN s.status = 'active' THEN now() END, \
     attempt_base = d.attempt_count, updated_at = now() \
     FROM subscriptions s WHERE s.id = d.subscription_id AND s.deleted_at IS NULL \
     AND d.id = ANY($1) AND ($2::text[] IS NULL OR d.status = ANY($2)) \
     RETURNING d.id, d.subscription_id, d.status"
);

/// Operator retry of `ids` (whatever their state, or only those in one of `only`): returns
/// `(id, subscription, new status)` of each delivery whose subscription still exists.
pub async fn requeue(
    pool: &PgPool,
    ids: &[Uuid],
    only: Option<&[DeliveryStatus]>,
) -> Result<Vec<(Uuid, Uuid, String)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    super::changes::lock_shared(&mut tx).await?;
    let rows = sqlx::query_as(REQUEUE.as_str())
        .bind(ids)
        .bind(only.map(|set| set.iter().map(|s| s.as_str()).collect::<Vec<_>>()))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

crate::statement!(
    FAILED_SINCE = "SELECT id FROM deliveries WHERE subscription_id = $1 AND status = {failed} \
     AND created_at >= $2"
);

/// Ids of a subscription's failed deliveries created at or after `since` (what recover
/// re-queues).
pub async fn failed_since(
    pool: &PgPool,
    subscription_id: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(FAILED_SINCE.as_str())
        .bind(subscription_id)
        .bind(since)
        .fetch_all(pool)
        .await
}

/// Which `(delivery, attempt number)` pairs among these have an attempt recorded.
pub async fn recorded_attempts(
    pool: &PgPool,
    pairs: &[(Uuid, i32)],
) -> Result<Vec<(Uuid, i32)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.delivery_id, a.attempt_number FROM attempts a \
         JOIN UNNEST($1::uuid[], $2::int[]) AS p(d, n) ON a.delivery_id = p.d AND a.attempt_number = p.n",
    )
    .bind(pairs.iter().map(|p| p.0).collect::<Vec<_>>())
    .bind(pairs.iter().map(|p| p.1).collect::<Vec<_>>())
    .fetch_all(pool)
    .await
}

crate::statement!(
    SKIP = "UPDATE deliveries SET status = {failed}, last_error = 'skipped by operator', \
     next_attempt_at = NULL, updated_at = now() WHERE id = $1 AND status IN {UNFINISHED} \
     RETURNING subscription_id"
);

/// Ends an unfinished delivery as failed ("skipped by operator"), releasing its ordering
/// key; returns its subscription, or `None` when it was not unfinished.
pub async fn skip(pool: &PgPool, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(SKIP.as_str())
        .bind(id)
        .fetch_optional(pool)
        .await
}
