//! The `subscriptions` table: create, read, list with a cursor, update, soft delete, status
//! changes and secret rotation. Deleted subscriptions stay as rows (their delivery log still
//! refers to them) but are invisible to every read here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{EventFilter, SigningSecret, SubscriptionStatus, TargetUrl};
use crate::headers::ExtraHeaders;

/// A stored subscription, as read from Postgres (and cached in Redis).
#[derive(Debug, Clone, sqlx::FromRow, Serialize, Deserialize)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub target_url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub headers: Json<BTreeMap<String, String>>,
    pub rate_limit_per_second: Option<i32>,
    pub max_in_flight: i32,
    pub timeout_ms: Option<i32>,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub requires_signature: bool,
    pub failing_since: Option<DateTime<Utc>>,
    /// The node whose actors deliver for it (`None` until a node claims it).
    pub owner_node: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SubscriptionRow {
    pub fn filter(&self) -> EventFilter {
        EventFilter::from_stored(self.event_types.clone())
    }

    pub fn status(&self) -> SubscriptionStatus {
        SubscriptionStatus::parse(&self.status).unwrap_or(SubscriptionStatus::Disabled)
    }

    pub fn extra_headers(&self) -> ExtraHeaders {
        ExtraHeaders::from_stored(self.headers.0.clone())
    }

    /// The secrets that sign (and verify) at `now`: the current one, plus the previous one
    /// while its overlap lasts.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<SigningSecret> {
        let mut out = vec![SigningSecret::from_stored(self.secret.clone())];
        if let (Some(prev), Some(until)) = (&self.previous_secret, self.previous_secret_expires_at)
            && until > now
        {
            out.push(SigningSecret::from_stored(prev.clone()));
        }
        out
    }
}

/// Everything a client chooses about a subscription, validated. PUT replaces all of it;
/// PATCH merges onto the stored values first.
#[derive(Debug, Clone)]
pub struct SubscriptionSpec {
    pub target_url: TargetUrl,
    pub event_types: EventFilter,
    pub description: Option<String>,
    pub headers: ExtraHeaders,
    pub rate_limit_per_second: Option<i32>,
    pub max_in_flight: i32,
    pub timeout_ms: Option<i32>,
}

impl SubscriptionSpec {
    /// The spec as currently stored, for PATCH to merge onto.
    pub fn from_row(row: &SubscriptionRow) -> Self {
        Self {
            target_url: TargetUrl::from_stored(row.target_url.clone()),
            event_types: row.filter(),
            description: row.description.clone(),
            headers: row.extra_headers(),
            rate_limit_per_second: row.rate_limit_per_second,
            max_in_flight: row.max_in_flight,
            timeout_ms: row.timeout_ms,
        }
    }
}

/// The columns of [`SubscriptionRow`], for `concat!` into static SQL.
macro_rules! columns {
    () => {
        "id, target_url, event_types, description, headers, rate_limit_per_second, \
    max_in_flight, timeout_ms, status, disabled_reason, secret, previous_secret, \
    previous_secret_expires_at, requires_signature, failing_since, owner_node, created_at, updated_at"
    };
}

pub async fn insert(
    pool: &PgPool,
    spec: &SubscriptionSpec,
    secret: &SigningSecret,
    requires_signature: bool,
    owner_node: &str,
) -> Result<SubscriptionRow, sqlx::Error> {
    let sql = concat!(
        "INSERT INTO subscriptions (id, target_url, event_types, description, headers, \
         rate_limit_per_second, max_in_flight, timeout_ms, secret, requires_signature, owner_node) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ",
        columns!()
    );
    sqlx::query_as(sql)
        .bind(Uuid::now_v7())
        .bind(spec.target_url.as_str())
        .bind(spec.event_types.to_strings())
        .bind(&spec.description)
        .bind(Json(spec.headers.as_map()))
        .bind(spec.rate_limit_per_second)
        .bind(spec.max_in_flight)
        .bind(spec.timeout_ms)
        .bind(secret.expose())
        .bind(requires_signature)
        .bind(owner_node)
        .fetch_one(pool)
        .await
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM subscriptions WHERE id = $1 AND deleted_at IS NULL"
    );
    sqlx::query_as(sql).bind(id).fetch_optional(pool).await
}

/// One page of live subscriptions, newest first, strictly older than `before` when given.
pub async fn list(
    pool: &PgPool,
    status: Option<SubscriptionStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM subscriptions WHERE deleted_at IS NULL \
         AND ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    );
    sqlx::query_as(sql)
        .bind(status.map(SubscriptionStatus::as_str))
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Reads the row under a lock, lets `change` compute the new spec from it, and writes it.
/// `Ok(None)` when there is no such live subscription; `Err(Ok(e))` carries `change`'s error.
pub async fn update_with<E>(
    pool: &PgPool,
    id: Uuid,
    change: impl FnOnce(&SubscriptionRow) -> Result<SubscriptionSpec, E>,
) -> Result<Option<Result<SubscriptionRow, E>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(current) = lock(&mut tx, id).await? else {
        return Ok(None);
    };
    let spec = match change(&current) {
        Ok(spec) => spec,
        Err(e) => return Ok(Some(Err(e))),
    };
    let sql = concat!(
        "UPDATE subscriptions SET target_url = $2, event_types = $3, description = $4, \
         headers = $5, rate_limit_per_second = $6, max_in_flight = $7, timeout_ms = $8, \
         updated_at = now() WHERE id = $1 RETURNING ",
        columns!()
    );
    let row = sqlx::query_as(sql)
        .bind(id)
        .bind(spec.target_url.as_str())
        .bind(spec.event_types.to_strings())
        .bind(&spec.description)
        .bind(Json(spec.headers.as_map()))
        .bind(spec.rate_limit_per_second)
        .bind(spec.max_in_flight)
        .bind(spec.timeout_ms)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(Ok(row)))
}

async fn lock(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM subscriptions WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
    );
    sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await
}

/// Sets the status (and the reason, for `disabled`). Returns the updated row.
pub async fn set_status(
    pool: &PgPool,
    id: Uuid,
    status: SubscriptionStatus,
    reason: Option<&str>,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "UPDATE subscriptions SET status = $2, disabled_reason = $3, \
         failing_since = CASE WHEN $2 = 'active' THEN NULL ELSE failing_since END, \
         updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        columns!()
    );
    sqlx::query_as(sql)
        .bind(id)
        .bind(status.as_str())
        .bind(reason)
        .fetch_optional(pool)
        .await
}

/// Replaces the secret; the old one keeps signing until `overlap_until`.
pub async fn rotate_secret(
    pool: &PgPool,
    id: Uuid,
    new_secret: &SigningSecret,
    overlap_until: DateTime<Utc>,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "UPDATE subscriptions SET previous_secret = secret, previous_secret_expires_at = $3, \
         secret = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        columns!()
    );
    sqlx::query_as(sql)
        .bind(id)
        .bind(new_secret.expose())
        .bind(overlap_until)
        .fetch_optional(pool)
        .await
}

/// Soft-deletes: the row stays for the delivery log, but no read here sees it again, and its
/// unfinished deliveries are marked failed. Returns whether a live subscription was deleted.
pub async fn soft_delete(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query(
        "UPDATE subscriptions SET deleted_at = now(), updated_at = now(), secret = '', \
         previous_secret = NULL WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if deleted {
        sqlx::query(
            "UPDATE deliveries SET status = 'failed', last_error = 'subscription deleted', \
             next_attempt_at = NULL, updated_at = now() \
             WHERE subscription_id = $1 AND status IN ('pending', 'delivering', 'retrying', 'paused')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

/// Every live subscription (the directory's full load).
pub async fn list_all_live(pool: &PgPool) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM subscriptions WHERE deleted_at IS NULL ORDER BY id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn set_failing_since(
    pool: &PgPool,
    id: Uuid,
    since: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE subscriptions SET failing_since = $2 WHERE id = $1")
        .bind(id)
        .bind(since)
        .execute(pool)
        .await?;
    Ok(())
}

/// Records that `node` is alive.
pub async fn heartbeat(pool: &PgPool, node: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO nodes (node_id) VALUES ($1) \
         ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now()",
    )
    .bind(node)
    .execute(pool)
    .await?;
    Ok(())
}

/// Takes the subscriptions no live node owns; returns them as they are now.
pub async fn claim_orphans(
    pool: &PgPool,
    node: &str,
    ttl_secs: f64,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE subscriptions SET owner_node = $1 WHERE deleted_at IS NULL AND owner_node IS DISTINCT FROM $1 \
         AND (owner_node IS NULL OR owner_node NOT IN \
              (SELECT node_id FROM nodes WHERE heartbeat_at > now() - make_interval(secs => $2))) RETURNING ",
        columns!()
    ))
    .bind(node)
    .bind(ttl_secs)
    .fetch_all(pool)
    .await
}
