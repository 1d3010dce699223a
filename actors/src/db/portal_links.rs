//! The `portal_links` table and the portal rows of `sessions`: one-time links to an
//! application's consumer portal, stored only as the SHA-256 of their token, and the
//! sessions they open.
//!
//! Must never happen: a link opened twice, or after it expired or was revoked (the claim is
//! one conditional `UPDATE`, so two concurrent openings cannot both win); a portal session
//! that outlives its link's revocation or its application's deletion.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A link as listed: never the token, never its hash.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct PortalLinkRow {
    pub id: Uuid,
    pub application_id: Uuid,
    pub read_only: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A link to store: everything but the token itself.
#[derive(Debug, Clone)]
pub struct NewPortalLink<'a> {
    pub id: Uuid,
    pub application_id: Uuid,
    pub token_hash: &'a [u8],
    pub read_only: bool,
    pub created_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

/// What a live portal session grants.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct PortalSessionRow {
    pub link_id: Uuid,
    pub application_id: Uuid,
    pub read_only: bool,
    pub expires_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, application_id, read_only, created_by, created_at, expires_at, used_at, revoked_at";

pub async fn insert(pool: &PgPool, link: &NewPortalLink<'_>) -> Result<PortalLinkRow, sqlx::Error> {
    let sql = format!(
        "INSERT INTO portal_links (id, application_id, token_hash, read_only, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(link.id)
        .bind(link.application_id)
        .bind(link.token_hash)
        .bind(link.read_only)
        .bind(link.created_by)
        .bind(link.expires_at)
        .fetch_one(pool)
        .await
}

/// An application's links that still grant something (not revoked, not expired), newest
/// first.
pub async fn list_live(
    pool: &PgPool,
    application_id: Uuid,
    limit: i64,
    before: Option<Uuid>,
) -> Result<Vec<PortalLinkRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM portal_links WHERE application_id = $1 AND revoked_at IS NULL \
         AND expires_at > now() AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(application_id)
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// Claims the link whose token hashes to `link_hash` (once: unused, unrevoked, unexpired,
/// of a live application) and stores the session `session_hash` it opens, lasting until the
/// link expires. `None` when the link cannot be opened.
pub async fn open(
    pool: &PgPool,
    link_hash: &[u8],
    session_hash: &[u8],
) -> Result<Option<PortalSessionRow>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let claimed: Option<PortalSessionRow> = sqlx::query_as(
        "UPDATE portal_links l SET used_at = now() FROM applications a \
         WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.revoked_at IS NULL \
         AND l.expires_at > now() AND a.id = l.application_id AND a.deleted_at IS NULL \
         RETURNING l.id AS link_id, l.application_id, l.read_only, l.expires_at",
    )
    .bind(link_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = claimed else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO sessions (token_hash, kind, portal_link_id, expires_at) \
         VALUES ($1, 'portal', $2, $3)",
    )
    .bind(session_hash)
    .bind(row.link_id)
    .bind(row.expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(row))
}

/// The live portal session whose token hashes to `hash`.
pub async fn find_session(
    pool: &PgPool,
    hash: &[u8],
) -> Result<Option<PortalSessionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.id AS link_id, l.application_id, l.read_only, s.expires_at \
         FROM sessions s JOIN portal_links l ON l.id = s.portal_link_id \
         JOIN applications a ON a.id = l.application_id \
         WHERE s.token_hash = $1 AND s.kind = 'portal' AND s.expires_at > now() \
         AND l.revoked_at IS NULL AND a.deleted_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
}

/// Revokes link `id` of `application_id` and deletes its session; false when there was no
/// such unrevoked link.
pub async fn revoke(pool: &PgPool, application_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE portal_links SET revoked_at = now() \
         WHERE id = $1 AND application_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(application_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM sessions WHERE portal_link_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every unrevoked link of an application and deletes their sessions, inside `tx`.
/// Returns the revoked ids.
pub async fn revoke_for_application(
    tx: &mut Transaction<'_, Postgres>,
    application_id: Uuid,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE portal_links SET revoked_at = now() \
         WHERE application_id = $1 AND revoked_at IS NULL RETURNING id",
    )
    .bind(application_id)
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM sessions WHERE portal_link_id = ANY($1)")
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    Ok(ids)
}

/// Deletes up to `batch` expired links that no session refers to any more; returns how many.
pub async fn delete_expired(pool: &PgPool, batch: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM portal_links WHERE id IN (SELECT l.id FROM portal_links l \
         WHERE l.expires_at <= now() - interval '1 day' \
         AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.portal_link_id = l.id) LIMIT $1)",
    )
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
