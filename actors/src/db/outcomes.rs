//! The fenced write of attempt outcomes: a batch of attempts, the delivery updates they
//! imply and the owners' health updates, in one transaction that first checks, under a
//! key-share lock on the shards' lease rows, that this node still holds each outcome's shard at
//! the epoch the attempt was sent under. Outcomes of a lost lease are refused, not written.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::health::Health;
use super::subscriptions::Tx;
use crate::domain::DeliveryStatus;

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

/// One attempt, as logged. Every text here is safe for Postgres (`crate::answer` made it so).
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub id: Uuid,
    pub delivery_id: Uuid,
    pub attempt_number: i32,
    pub attempted_at: DateTime<Utc>,
    /// The headers sent, as a JSON object's text.
    pub request_headers: String,
    pub status_code: Option<i32>,
    /// Readable text of the answer's first bytes.
    pub response_body: Option<String>,
    /// The exact bytes, base64, when `response_body` is not them.
    pub response_body_base64: Option<String>,
    /// The answer's headers, as a JSON object's text.
    pub response_headers: Option<String>,
    pub duration_ms: i32,
    pub error_class: Option<&'static str>,
    pub error_message: Option<String>,
    pub succeeded: bool,
}

/// One outcome to record, with the lease it was sent under.
#[derive(Debug, Clone)]
pub struct OutcomeRow {
    pub shard: i32,
    pub epoch: i64,
    pub attempt: AttemptRecord,
    pub update: StatusUpdate,
    /// The subscription's health after this outcome, when it changed.
    pub health: Option<(Uuid, Health)>,
    /// The subscription's adaptive concurrency after this outcome, when it changed.
    pub concurrency: Option<(Uuid, i32)>,
}

/// Writes the outcomes whose lease `node` still holds; returns the indices it refused.
/// Idempotent: a batch whose commit succeeded but whose answer was lost can be written again.
pub async fn write(
    pool: &PgPool,
    node: &str,
    batch: &[OutcomeRow],
) -> Result<Vec<usize>, sqlx::Error> {
    // The commit waits for the disk (the server's `synchronous_commit`, on by default): an
    // outcome acknowledged here releases its in-flight mark, so one a Postgres crash could
    // still lose would be sent again without being counted as a possible duplicate.
    let mut tx = pool.begin().await?;
    let held = held_leases(&mut tx, node, batch).await?;
    let (ok, refused): (Vec<usize>, Vec<usize>) =
        (0..batch.len()).partition(|&i| held.contains(&(batch[i].shard, batch[i].epoch)));
    let rows: Vec<&OutcomeRow> = ok.iter().map(|&i| &batch[i]).collect();
    if !rows.is_empty() {
        insert_attempts(&mut tx, &rows).await?;
        update_deliveries(&mut tx, &rows).await?;
        upsert_health(&mut tx, &rows).await?;
        upsert_concurrency(&mut tx, &rows).await?;
    }
    tx.commit().await?;
    Ok(refused)
}

/// The `(shard, epoch)` pairs among the batch's that `node` holds now, key-share-locked so no
/// takeover commits before this transaction does: a takeover picks its rows `FOR UPDATE SKIP
/// LOCKED` ([`super::shards::acquire`]), which this lock holds off. It is the weakest lock that
/// does, so this node's own renewals and hand-backs (plain updates of `lease_until`) never wait
/// for its outcome writes: under load they did, long enough for its leases to lapse.
async fn held_leases(
    tx: &mut Tx<'_>,
    node: &str,
    batch: &[OutcomeRow],
) -> Result<HashSet<(i32, i64)>, sqlx::Error> {
    let mut shards: Vec<i32> = batch.iter().map(|o| o.shard).collect();
    shards.sort_unstable();
    shards.dedup();
    let rows: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT shard, epoch FROM shards WHERE shard = ANY($2) AND owner = $1 \
         AND lease_until > now() ORDER BY shard FOR KEY SHARE",
    )
    .bind(node)
    .bind(&shards)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().collect())
}

async fn insert_attempts(tx: &mut Tx<'_>, rows: &[&OutcomeRow]) -> Result<(), sqlx::Error> {
    let a: Vec<&AttemptRecord> = rows.iter().map(|r| &r.attempt).collect();
    sqlx::query(
        "INSERT INTO attempts (id, delivery_id, attempt_number, attempted_at, request_headers, status_code, \
         response_body, response_body_base64, response_headers, duration_ms, error_class, error_message, succeeded) \
         SELECT id, did, n, at, h::json, sc, rb, rb64, rh::json, ms, ec, em, ok \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::int[], $4::timestamptz[], $5::text[], $6::int[], \
         $7::text[], $8::text[], $9::text[], $10::int[], $11::text[], $12::text[], $13::bool[]) \
         AS t(id, did, n, at, h, sc, rb, rb64, rh, ms, ec, em, ok) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(a.iter().map(|x| x.id).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.delivery_id).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.attempt_number).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.attempted_at).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.request_headers.as_str()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.status_code).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.response_body.as_deref()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.response_body_base64.as_deref()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.response_headers.as_deref()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.duration_ms).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.error_class).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.error_message.as_deref()).collect::<Vec<_>>())
    .bind(a.iter().map(|x| x.succeeded).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

crate::statement!(
    /// Only unfinished rows change, so a delete (which fails them) or a cancel wins over a
    /// late outcome. A delivery held while its attempt was in flight stays held unless that
    /// attempt finished it.
    UPDATE_DELIVERIES = "UPDATE deliveries d SET \
     status = CASE WHEN d.status = {paused} AND u.st IN {DUE} THEN {paused} ELSE u.st END, \
     next_attempt_at = CASE WHEN d.status = {paused} AND u.st IN {DUE} THEN NULL ELSE u.na END, \
     attempt_count = GREATEST(d.attempt_count, u.ac), \
     last_attempt_at = u.la, last_status_code = u.sc, last_error = u.le, updated_at = now() \
     FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::int[], $7::text[]) \
     AS u(id, st, ac, na, la, sc, le) \
     WHERE d.id = u.id AND d.status IN {UNFINISHED}"
);

/// The latest update of each delivery in the batch (a batch may hold several attempts of one).
async fn update_deliveries(tx: &mut Tx<'_>, rows: &[&OutcomeRow]) -> Result<(), sqlx::Error> {
    let mut latest: HashMap<Uuid, &StatusUpdate> = HashMap::new();
    for r in rows {
        latest.insert(r.update.id, &r.update);
    }
    let u: Vec<&StatusUpdate> = latest.into_values().collect();
    sqlx::query(UPDATE_DELIVERIES.as_str())
        .bind(u.iter().map(|x| x.id).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.status.as_str()).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.attempt_count).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.next_attempt_at).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.last_attempt_at).collect::<Vec<_>>())
        .bind(u.iter().map(|x| x.last_status_code).collect::<Vec<_>>())
        .bind(
            u.iter()
                .map(|x| x.last_error.as_deref())
                .collect::<Vec<_>>(),
        )
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn upsert_concurrency(tx: &mut Tx<'_>, rows: &[&OutcomeRow]) -> Result<(), sqlx::Error> {
    let latest: HashMap<Uuid, i32> = rows.iter().filter_map(|r| r.concurrency).collect();
    if latest.is_empty() {
        return Ok(());
    }
    let (ids, limits): (Vec<Uuid>, Vec<i32>) = latest.into_iter().unzip();
    sqlx::query(
        "INSERT INTO subscription_health (subscription_id, concurrency) \
         SELECT * FROM UNNEST($1::uuid[], $2::int[]) \
         ON CONFLICT (subscription_id) DO UPDATE SET concurrency = EXCLUDED.concurrency, \
         updated_at = now()",
    )
    .bind(&ids)
    .bind(&limits)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn upsert_health(tx: &mut Tx<'_>, rows: &[&OutcomeRow]) -> Result<(), sqlx::Error> {
    let mut latest: HashMap<Uuid, Health> = HashMap::new();
    for (id, h) in rows.iter().filter_map(|r| r.health) {
        latest.insert(id, h);
    }
    if latest.is_empty() {
        return Ok(());
    }
    let (ids, hs): (Vec<Uuid>, Vec<Health>) = latest.into_iter().unzip();
    sqlx::query(
        "INSERT INTO subscription_health (subscription_id, failing_since, consecutive_failures) \
         SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::int[]) \
         ON CONFLICT (subscription_id) DO UPDATE SET failing_since = EXCLUDED.failing_since, \
         consecutive_failures = EXCLUDED.consecutive_failures, updated_at = now()",
    )
    .bind(&ids)
    .bind(hs.iter().map(|h| h.failing_since).collect::<Vec<_>>())
    .bind(
        hs.iter()
            .map(|h| h.consecutive_failures)
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
