//! The `sessions` table: browser sessions, stored only as the SHA-256 of their token. A
//! session is live while it has not expired and, for one made from a named key, while that
//! key is live (revoking a key also deletes its sessions; the join here is the second lock).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A live session and what its credential grants.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub kind: String,
    pub api_key_id: Option<Uuid>,
    pub bootstrap_check: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    pub scope: Option<String>,
    pub application_id: Option<Uuid>,
}

/// A session to store.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub kind: &'a str,
    pub api_key_id: Option<Uuid>,
    pub bootstrap_check: Option<&'a [u8]>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(pool: &PgPool, s: &NewSession<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, kind, api_key_id, bootstrap_check, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(s.token_hash)
    .bind(s.kind)
    .bind(s.api_key_id)
    .bind(s.bootstrap_check)
    .bind(s.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn find_live(pool: &PgPool, hash: &[u8]) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.kind, s.api_key_id, s.bootstrap_check, s.expires_at, k.scope, k.application_id \
         FROM sessions s LEFT JOIN api_keys k ON k.id = s.api_key_id \
         LEFT JOIN applications a ON a.id = k.application_id \
         WHERE s.token_hash = $1 AND s.expires_at > now() \
         AND (s.api_key_id IS NULL OR (k.revoked_at IS NULL \
              AND (k.application_id IS NULL OR a.deleted_at IS NULL)))",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
}

pub async fn delete(pool: &PgPool, hash: &[u8]) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes up to `batch` expired sessions; returns how many.
pub async fn delete_expired(pool: &PgPool, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM sessions WHERE token_hash IN \
         (SELECT token_hash FROM sessions WHERE expires_at <= now() LIMIT $1)",
    )
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
