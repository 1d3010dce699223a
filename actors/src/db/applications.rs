//! The `applications` table (tenants). Two rows are built in by the migration and can never
//! be deleted: [`DEFAULT_APP_ID`] (`default`, where the routes without `/applications/{app}`
//! act) and [`OPS_APP_ID`] (`courier-ops`, Courier's operational events). Applications are
//! soft-deleted; every read here skips deleted rows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The built-in `default` application: `00000000-0000-0000-0000-000000000001`.
pub const DEFAULT_APP_ID: Uuid = Uuid::from_u128(1);
/// The built-in, reserved `courier-ops` application: `00000000-0000-0000-0000-000000000002`.
pub const OPS_APP_ID: Uuid = Uuid::from_u128(2);
pub const DEFAULT_APP_UID: &str = "default";
pub const OPS_APP_UID: &str = "courier-ops";

/// Whether `id` is one of the two built-in applications.
pub fn is_builtin(id: Uuid) -> bool {
    id == DEFAULT_APP_ID || id == OPS_APP_ID
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, Deserialize)]
pub struct ApplicationRow {
    pub id: Uuid,
    pub uid: String,
    pub name: String,
    pub metadata: Json<serde_json::Map<String, serde_json::Value>>,
    pub retention_secs: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything a client chooses about an application, validated by the route.
#[derive(Debug, Clone)]
pub struct ApplicationSpec {
    pub uid: String,
    pub name: String,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub retention_secs: Option<i64>,
}

impl ApplicationSpec {
    pub fn from_row(row: &ApplicationRow) -> Self {
        Self {
            uid: row.uid.clone(),
            name: row.name.clone(),
            metadata: row.metadata.0.clone(),
            retention_secs: row.retention_secs,
        }
    }
}

const COLUMNS: &str = "id, uid, name, metadata, retention_secs, created_at, updated_at";

/// Whether an error is a unique violation (a live application already has that uid).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "23505")
}

pub async fn insert(pool: &PgPool, spec: &ApplicationSpec) -> Result<ApplicationRow, sqlx::Error> {
    let sql = format!(
        "INSERT INTO applications (id, uid, name, metadata, retention_secs) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Uuid::now_v7())
        .bind(&spec.uid)
        .bind(&spec.name)
        .bind(Json(&spec.metadata))
        .bind(spec.retention_secs)
        .fetch_one(pool)
        .await
}

/// A live application by id, or by uid when `key` is not an id of one (a uid may look
/// like a UUID; the id wins).
pub async fn find(pool: &PgPool, key: &str) -> Result<Option<ApplicationRow>, sqlx::Error> {
    let id = Uuid::parse_str(key).ok();
    let sql = format!(
        "SELECT {COLUMNS} FROM applications WHERE deleted_at IS NULL \
         AND (id = $1 OR uid = $2) ORDER BY (id = $1) IS TRUE DESC LIMIT 1"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(key)
        .fetch_optional(pool)
        .await
}

/// Live applications, newest first, `limit` of them before `before`.
pub async fn list(
    pool: &PgPool,
    limit: i64,
    before: Option<Uuid>,
) -> Result<Vec<ApplicationRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM applications WHERE deleted_at IS NULL \
         AND ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await
}

pub async fn update(
    pool: &PgPool,
    id: Uuid,
    spec: &ApplicationSpec,
) -> Result<Option<ApplicationRow>, sqlx::Error> {
    let sql = format!(
        "UPDATE applications SET uid = $2, name = $3, metadata = $4, retention_secs = $5, \
         updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(&spec.uid)
        .bind(&spec.name)
        .bind(Json(&spec.metadata))
        .bind(spec.retention_secs)
        .fetch_optional(pool)
        .await
}

/// Marks a live, non-built-in application deleted inside `tx`; false when there was none.
pub async fn soft_delete(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    if is_builtin(id) {
        return Ok(false);
    }
    let done = sqlx::query(
        "UPDATE applications SET deleted_at = now(), updated_at = now() \
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
