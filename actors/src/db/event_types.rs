//! The `event_types` table: the catalog. Rows are never deleted (a type is deprecated
//! instead), and `version` goes up on every change, so `(count, sum of versions)` changes
//! whenever anything does: that is how each node's `Catalog` notices changes cheaply.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use sqlx::types::Json;

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct EventTypeRow {
    pub name: String,
    pub description: String,
    pub schema: Option<Json<serde_json::Value>>,
    pub example: Option<Json<serde_json::Value>>,
    pub deprecated: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything a client chooses about an event type, validated by the route.
#[derive(Debug, Clone)]
pub struct EventTypeSpec {
    pub name: String,
    pub description: String,
    pub schema: Option<serde_json::Value>,
    pub example: Option<serde_json::Value>,
    pub deprecated: bool,
}

impl EventTypeSpec {
    pub fn from_row(row: &EventTypeRow) -> Self {
        Self {
            name: row.name.clone(),
            description: row.description.clone(),
            schema: row.schema.as_ref().map(|j| j.0.clone()),
            example: row.example.as_ref().map(|j| j.0.clone()),
            deprecated: row.deprecated,
        }
    }
}

const COLUMNS: &str =
    "name, description, schema, example, deprecated, version, created_at, updated_at";

pub async fn insert(pool: &PgPool, spec: &EventTypeSpec) -> Result<EventTypeRow, sqlx::Error> {
    let sql = format!(
        "INSERT INTO event_types (name, description, schema, example, deprecated) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&spec.name)
        .bind(&spec.description)
        .bind(spec.schema.as_ref().map(Json))
        .bind(spec.example.as_ref().map(Json))
        .bind(spec.deprecated)
        .fetch_one(pool)
        .await
}

pub async fn get(pool: &PgPool, name: &str) -> Result<Option<EventTypeRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM event_types WHERE name = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// Up to `limit` types in name order, after `after`.
pub async fn list(
    pool: &PgPool,
    limit: i64,
    after: Option<&str>,
) -> Result<Vec<EventTypeRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM event_types WHERE ($1::text IS NULL OR name > $1) \
         ORDER BY name LIMIT $2"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// The whole catalog, for the in-memory copy.
pub async fn all(pool: &PgPool) -> Result<Vec<EventTypeRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM event_types ORDER BY name");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
}

/// Replaces a type's fields and bumps its version.
pub async fn update(
    pool: &PgPool,
    spec: &EventTypeSpec,
) -> Result<Option<EventTypeRow>, sqlx::Error> {
    let sql = format!(
        "UPDATE event_types SET description = $2, schema = $3, example = $4, deprecated = $5, \
         version = version + 1, updated_at = now() WHERE name = $1 RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&spec.name)
        .bind(&spec.description)
        .bind(spec.schema.as_ref().map(Json))
        .bind(spec.example.as_ref().map(Json))
        .bind(spec.deprecated)
        .fetch_optional(pool)
        .await
}

/// `(number of types, sum of their versions)`: changes whenever the catalog does.
pub async fn fingerprint(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as("SELECT count(*), coalesce(sum(version), 0)::bigint FROM event_types")
        .fetch_one(pool)
        .await
}
