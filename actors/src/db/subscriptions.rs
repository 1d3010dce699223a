//! The `subscriptions` table. Reads take the pool; every write takes the transaction of a
//! change that [`crate::lifecycle`] opened (with the change lock held), bumps the row's
//! `version` and returns the row as it now is. Deleted subscriptions stay as rows (their log
//! still refers to them) but are invisible to every read here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::crypto::{KeyRing, OpenError};
use crate::domain::{EventFilter, SigningSecret, SubscriptionStatus, TargetUrl};
use crate::headers::ExtraHeaders;

pub type Tx<'a> = Transaction<'a, Postgres>;

/// A stored subscription, as read from Postgres (and cached in Redis under its version).
#[derive(Debug, Clone, sqlx::FromRow, Serialize, Deserialize)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub application_id: Uuid,
    pub target_url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// Headers a node older than the key ring wrote in clear (empty once resealed).
    pub headers: Json<BTreeMap<String, String>>,
    /// The extra request headers, sealed ([`crate::secrets`]).
    pub headers_sealed: Option<String>,
    pub rate_limit_per_second: Option<i32>,
    pub max_in_flight: i32,
    pub timeout_ms: Option<i32>,
    pub status: String,
    pub disabled_reason: Option<String>,
    /// The signing secret, sealed.
    pub secret: String,
    /// The rotated-out secret while it overlaps, sealed.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub requires_signature: bool,
    /// The content filter (validated JSON; compiled by the directory).
    pub filter: Option<Json<serde_json::Value>>,
    /// Its own retry delays in milliseconds (`None`: the server's schedule).
    pub retry_schedule_ms: Option<Vec<i32>>,
    /// Bumped by every change; the directory keeps the highest it has seen.
    pub version: i64,
    /// Which shard (and so which node's lease) it is delivered under.
    pub shard: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SubscriptionRow {
    pub fn filter(&self) -> EventFilter {
        EventFilter::from_stored(self.event_types.clone())
    }

    /// Its own retry schedule, when it has one.
    pub fn retry_schedule(&self) -> Option<crate::retry::RetrySchedule> {
        self.retry_schedule_ms.as_ref().map(|ms| {
            crate::retry::RetrySchedule::from_delays(
                ms.iter()
                    .map(|m| std::time::Duration::from_millis(u64::try_from(*m).unwrap_or(0)))
                    .collect(),
            )
        })
    }

    pub fn status(&self) -> SubscriptionStatus {
        SubscriptionStatus::parse(&self.status).unwrap_or(SubscriptionStatus::Disabled)
    }

    /// The extra request headers, opened.
    pub fn extra_headers(&self, ring: &KeyRing) -> Result<ExtraHeaders, OpenError> {
        crate::secrets::open_headers(
            ring,
            self.id,
            self.headers_sealed.as_deref(),
            &self.headers.0,
        )
    }

    /// The secrets that sign (and verify) at `now`, opened: the current one, plus the
    /// previous one while its overlap lasts.
    pub fn signing_secrets(
        &self,
        ring: &KeyRing,
        now: DateTime<Utc>,
    ) -> Result<Vec<SigningSecret>, OpenError> {
        let mut out = vec![crate::secrets::open_secret(ring, self.id, &self.secret)?];
        if let (Some(prev), Some(until)) = (&self.previous_secret, self.previous_secret_expires_at)
            && until > now
        {
            out.push(crate::secrets::open_secret(ring, self.id, prev)?);
        }
        Ok(out)
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
    /// A validated content filter ([`crate::filter`]).
    pub filter: Option<serde_json::Value>,
    /// Its own retry schedule.
    pub retry_schedule: Option<crate::retry::RetrySchedule>,
}

impl SubscriptionSpec {
    /// The spec as currently stored (with its headers opened), for PATCH to merge onto.
    pub fn from_row(row: &SubscriptionRow, headers: ExtraHeaders) -> Self {
        Self {
            target_url: TargetUrl::from_stored(row.target_url.clone()),
            event_types: row.filter(),
            description: row.description.clone(),
            headers,
            rate_limit_per_second: row.rate_limit_per_second,
            max_in_flight: row.max_in_flight,
            timeout_ms: row.timeout_ms,
            filter: row.filter.as_ref().map(|f| f.0.clone()),
            retry_schedule: row.retry_schedule(),
        }
    }

    fn retry_schedule_ms(&self) -> Option<Vec<i32>> {
        self.retry_schedule.as_ref().map(|s| {
            s.steps()
                .iter()
                .map(|d| i32::try_from(d.as_millis()).unwrap_or(i32::MAX))
                .collect()
        })
    }
}

/// The columns of [`SubscriptionRow`], for `concat!` into static SQL.
macro_rules! columns {
    () => {
        "id, application_id, target_url, event_types, description, headers, headers_sealed, \
    rate_limit_per_second, max_in_flight, timeout_ms, status, disabled_reason, secret, previous_secret, \
    previous_secret_expires_at, requires_signature, filter, retry_schedule_ms, version, shard, \
    created_at, updated_at"
    };
}

/// A new subscription row; `sealed` holds its sealed secret and headers.
pub struct NewSubscription<'a> {
    pub id: Uuid,
    pub application_id: Uuid,
    pub spec: &'a SubscriptionSpec,
    pub sealed_secret: &'a str,
    pub sealed_headers: &'a str,
    pub requires_signature: bool,
}

pub async fn insert(
    tx: &mut Tx<'_>,
    new: &NewSubscription<'_>,
) -> Result<SubscriptionRow, sqlx::Error> {
    let sql = concat!(
        "INSERT INTO subscriptions (id, application_id, target_url, event_types, description, \
         headers, headers_sealed, rate_limit_per_second, max_in_flight, timeout_ms, secret, \
         requires_signature, shard, filter, retry_schedule_ms) \
         VALUES ($1, $2, $3, $4, $5, '{}'::jsonb, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ",
        columns!()
    );
    let spec = new.spec;
    sqlx::query_as(sql)
        .bind(new.id)
        .bind(new.application_id)
        .bind(spec.target_url.as_str())
        .bind(spec.event_types.to_strings())
        .bind(&spec.description)
        .bind(new.sealed_headers)
        .bind(spec.rate_limit_per_second)
        .bind(spec.max_in_flight)
        .bind(spec.timeout_ms)
        .bind(new.sealed_secret)
        .bind(new.requires_signature)
        .bind(i32::from(crate::domain::shard_of(new.id)))
        .bind(spec.filter.clone().map(Json))
        .bind(spec.retry_schedule_ms())
        .fetch_one(&mut **tx)
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

/// The live rows among `ids` (a missing id was deleted).
pub async fn get_many(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM subscriptions WHERE id = ANY($1) AND deleted_at IS NULL"
    );
    sqlx::query_as(sql).bind(ids).fetch_all(pool).await
}

/// The application of a subscription row, deleted or not (its log outlives it).
pub async fn application_of(pool: &PgPool, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT application_id FROM subscriptions WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// One page of an application's live subscriptions, newest first, strictly older than
/// `before` when given.
pub async fn list(
    pool: &PgPool,
    application_id: Uuid,
    status: Option<SubscriptionStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM subscriptions WHERE deleted_at IS NULL AND application_id = $1 \
         AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id < $3) \
         ORDER BY id DESC LIMIT $4"
    );
    sqlx::query_as(sql)
        .bind(application_id)
        .bind(status.map(SubscriptionStatus::as_str))
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Ids of an application's live subscriptions (for deleting them with it).
pub async fn ids_of_application(
    pool: &PgPool,
    application_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM subscriptions WHERE application_id = $1 AND deleted_at IS NULL",
    )
    .bind(application_id)
    .fetch_all(pool)
    .await
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

/// The live subscription of `application_id` with this description, if any (the one
/// Courier manages for a setting).
pub async fn find_by_description(
    tx: &mut Tx<'_>,
    application_id: Uuid,
    description: &str,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM subscriptions WHERE application_id = $1 AND description = $2 \
         AND deleted_at IS NULL ORDER BY id LIMIT 1"
    );
    sqlx::query_as(sql)
        .bind(application_id)
        .bind(description)
        .fetch_optional(&mut **tx)
        .await
}

/// The live row under a row lock, for a change to compute its new state from.
pub async fn lock(tx: &mut Tx<'_>, id: Uuid) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        columns!(),
        " FROM subscriptions WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
    );
    sqlx::query_as(sql).bind(id).fetch_optional(&mut **tx).await
}

pub async fn update_spec(
    tx: &mut Tx<'_>,
    id: Uuid,
    spec: &SubscriptionSpec,
    sealed_headers: &str,
) -> Result<SubscriptionRow, sqlx::Error> {
    let sql = concat!(
        "UPDATE subscriptions SET target_url = $2, event_types = $3, description = $4, \
         headers = '{}'::jsonb, headers_sealed = $5, rate_limit_per_second = $6, \
         max_in_flight = $7, timeout_ms = $8, filter = $9, retry_schedule_ms = $10, \
         version = version + 1, updated_at = now() WHERE id = $1 RETURNING ",
        columns!()
    );
    sqlx::query_as(sql)
        .bind(id)
        .bind(spec.target_url.as_str())
        .bind(spec.event_types.to_strings())
        .bind(&spec.description)
        .bind(sealed_headers)
        .bind(spec.rate_limit_per_second)
        .bind(spec.max_in_flight)
        .bind(spec.timeout_ms)
        .bind(spec.filter.clone().map(Json))
        .bind(spec.retry_schedule_ms())
        .fetch_one(&mut **tx)
        .await
}

/// Sets the status (and the reason, for `disabled`).
pub async fn set_status(
    tx: &mut Tx<'_>,
    id: Uuid,
    status: SubscriptionStatus,
    reason: Option<&str>,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "UPDATE subscriptions SET status = $2, disabled_reason = $3, version = version + 1, \
         updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        columns!()
    );
    sqlx::query_as(sql)
        .bind(id)
        .bind(status.as_str())
        .bind(reason)
        .fetch_optional(&mut **tx)
        .await
}

/// Replaces the secret; the old one keeps signing until `overlap_until`.
pub async fn rotate_secret(
    tx: &mut Tx<'_>,
    id: Uuid,
    sealed_secret: &str,
    overlap_until: DateTime<Utc>,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "UPDATE subscriptions SET previous_secret = secret, previous_secret_expires_at = $3, \
         secret = $2, version = version + 1, updated_at = now() \
         WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        columns!()
    );
    sqlx::query_as(sql)
        .bind(id)
        .bind(sealed_secret)
        .bind(overlap_until)
        .fetch_optional(&mut **tx)
        .await
}

/// Soft-deletes: the row stays for the delivery log, but no read here sees it again.
/// Returns the new version when a live subscription was deleted.
pub async fn soft_delete(tx: &mut Tx<'_>, id: Uuid) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE subscriptions SET deleted_at = now(), updated_at = now(), secret = '', \
         previous_secret = NULL, version = version + 1 \
         WHERE id = $1 AND deleted_at IS NULL RETURNING version",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Stores resealed values (after a key rotation, or values an older version left in
/// clear) as a new version of the row.
pub async fn store_resealed(
    tx: &mut Tx<'_>,
    id: Uuid,
    secret: &str,
    previous_secret: Option<&str>,
    sealed_headers: &str,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let sql = concat!(
        "UPDATE subscriptions SET secret = $2, previous_secret = $3, headers_sealed = $4, \
         headers = '{}'::jsonb, version = version + 1 \
         WHERE id = $1 AND deleted_at IS NULL RETURNING ",
        columns!()
    );
    sqlx::query_as(sql)
        .bind(id)
        .bind(secret)
        .bind(previous_secret)
        .bind(sealed_headers)
        .fetch_optional(&mut **tx)
        .await
}

/// A subscription's status as an ingest commit reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusRow {
    pub id: Uuid,
    pub application_id: Uuid,
    pub status: String,
    pub deleted: bool,
}

/// The status of each of `ids` that exists: what an ingest commit reads, under the shared
/// change lock, to decide its deliveries' first status.
pub async fn statuses(tx: &mut Tx<'_>, ids: &[Uuid]) -> Result<Vec<StatusRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, application_id, status, deleted_at IS NOT NULL AS deleted \
         FROM subscriptions WHERE id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
}
