//! The `api_keys` table: named keys, stored only as the SHA-256 of their token (see
//! `access.rs` for why a fast hash is right here). Revoking a key deletes its sessions in
//! the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A key as listed: never the token, never its hash.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub scope: String,
    pub application_id: Option<Uuid>,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a live key grants, found by its token's hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyGrantRow {
    pub id: Uuid,
    pub scope: String,
    pub application_id: Option<Uuid>,
}

/// A key to store: everything but the token itself.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub scope: &'a str,
    pub application_id: Option<Uuid>,
    pub prefix: &'a str,
    pub token_hash: &'a [u8],
}

const COLUMNS: &str =
    "id, name, scope, application_id, prefix, created_at, last_used_at, revoked_at";

pub async fn insert(pool: &PgPool, key: &NewApiKey<'_>) -> Result<ApiKeyRow, sqlx::Error> {
    let sql = format!(
        "INSERT INTO api_keys (id, name, scope, application_id, prefix, token_hash) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key.id)
        .bind(key.name)
        .bind(key.scope)
        .bind(key.application_id)
        .bind(key.prefix)
        .bind(key.token_hash)
        .fetch_one(pool)
        .await
}

/// Live keys, newest first; only `application`'s when given.
pub async fn list(
    pool: &PgPool,
    limit: i64,
    before: Option<Uuid>,
    application: Option<Uuid>,
) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE revoked_at IS NULL \
         AND ($1::uuid IS NULL OR id < $1) AND ($2::uuid IS NULL OR application_id = $2) \
         ORDER BY id DESC LIMIT $3"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(before)
        .bind(application)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// The live key whose token hashes to `hash`, if its application (if any) is live too.
pub async fn find_live_by_hash(
    pool: &PgPool,
    hash: &[u8],
) -> Result<Option<KeyGrantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.id, k.scope, k.application_id FROM api_keys k \
         LEFT JOIN applications a ON a.id = k.application_id \
         WHERE k.token_hash = $1 AND k.revoked_at IS NULL \
         AND (k.application_id IS NULL OR a.deleted_at IS NULL)",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
}

/// Revokes a live key and deletes its sessions; false when there was no live key `id`.
pub async fn revoke(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM sessions WHERE api_key_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live key of an application and deletes their sessions, inside `tx`.
/// Returns the revoked ids.
pub async fn revoke_for_application(
    tx: &mut Transaction<'_, Postgres>,
    application_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE api_keys SET revoked_at = now() \
         WHERE application_id = $1 AND revoked_at IS NULL RETURNING id",
    )
    .bind(application_id)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM sessions WHERE api_key_id = ANY($1)")
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    Ok(ids)
}

/// Records that key `id` was used now.
pub async fn touch(pool: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET last_used_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
