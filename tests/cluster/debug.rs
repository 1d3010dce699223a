//! Diagnosis for a failed check, written beside the report (`target/tmp/cluster/debug.txt`):
//! what Postgres holds for a duplicated delivery, and what its sessions wait on.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::infra::out_dir;

pub fn note(text: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out_dir().join("debug.txt"))
    {
        let _ = writeln!(f, "{text}");
    }
}

type AttemptRow = (i32, DateTime<Utc>, Option<i32>, bool);
type SessionRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// The delivery's row and its recorded attempts.
pub async fn delivery(db: &PgPool, id: &str) -> String {
    let Ok(uuid) = id.parse::<uuid::Uuid>() else {
        return format!("{id}: not a uuid");
    };
    let row: Option<(String, i32, DateTime<Utc>, uuid::Uuid)> = sqlx::query_as(
        "SELECT status, attempt_count, created_at, subscription_id FROM deliveries WHERE id = $1",
    )
    .bind(uuid)
    .fetch_optional(db)
    .await
    .unwrap_or_default();
    let attempts: Vec<AttemptRow> = sqlx::query_as(
        "SELECT attempt_number, attempted_at, status_code, succeeded FROM attempts \
         WHERE delivery_id = $1 ORDER BY attempted_at",
    )
    .bind(uuid)
    .fetch_all(db)
    .await
    .unwrap_or_default();
    format!("{id}: row {row:?}; attempts {attempts:?}")
}

/// Sessions that are not idle, with what they wait on.
pub async fn activity(db: &PgPool) -> String {
    let rows: Vec<SessionRow> =
        sqlx::query_as(
            "SELECT client_addr::text, state, wait_event_type || ':' || wait_event, left(query, 90), xact_start \
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND state IS DISTINCT FROM 'idle' ORDER BY xact_start",
        )
        .fetch_all(db)
        .await
        .unwrap_or_default();
    rows.iter()
        .map(|r| format!("  {r:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}
