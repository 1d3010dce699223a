//! The subscription change log and the lock that orders it.
//!
//! A change opens its transaction with [`begin_change`], which takes the exclusive change lock
//! (`pg_advisory_xact_lock`); ingest commits take the same lock shared
//! ([`lock_shared`]). So changes are serialised (their `seq` order is their commit order, and
//! a reader that saw `seq = n` saw every earlier change), and an ingest never reads a
//! subscription's status half-way through a change (a resume cannot miss a delivery that an
//! ingest is inserting as held). Ingests do not block each other.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::subscriptions::Tx;

/// The advisory-lock key of subscription changes (`hashtext('courier:subscription-changes')`
/// would do as well; a constant keeps it readable in `pg_locks`).
const CHANGE_LOCK: i64 = 0x636f_7572_6965_7201;

/// The Postgres channel changes are announced on (`NOTIFY`, payload = seq).
pub const CHANNEL: &str = "courier_subscription_changes";

/// What a change did, as the log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Paused,
    Resumed,
    Disabled,
    SecretRotated,
    Deleted,
    /// Secrets resealed with the current key (nothing an operator changed).
    Resealed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Paused => "paused",
            Self::Resumed => "resumed",
            Self::Disabled => "disabled",
            Self::SecretRotated => "secret_rotated",
            Self::Deleted => "deleted",
            Self::Resealed => "resealed",
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Change {
    pub seq: i64,
    pub subscription_id: Uuid,
    pub version: i64,
    pub kind: String,
    pub at: DateTime<Utc>,
}

/// How long one try for the exclusive lock waits. While a change waits in the lock's queue,
/// every ingest that asks for the lock shared queues behind it; a try that times out leaves
/// the queue, so an ingest transaction that cannot finish (its node froze or lost the
/// network, until Postgres ends it: `IDLE_IN_TRANSACTION_TIMEOUT`) holds up changes, never
/// ingests on the other nodes.
const LOCK_TRY: &str = "200ms";
/// The pause between tries.
const LOCK_PAUSE: Duration = Duration::from_millis(200);
/// How long a change keeps trying before it gives up (as unavailable).
const LOCK_GIVE_UP: Duration = Duration::from_secs(20);

/// Opens a change's transaction holding the exclusive change lock.
pub async fn begin_change(pool: &PgPool) -> Result<Tx<'static>, sqlx::Error> {
    let started = std::time::Instant::now();
    loop {
        let mut tx = pool.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET LOCAL lock_timeout = '{LOCK_TRY}'"
        )))
        .execute(&mut *tx)
        .await?;
        let locked = sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CHANGE_LOCK)
            .execute(&mut *tx)
            .await;
        match locked {
            Ok(_) => {
                sqlx::query("SET LOCAL lock_timeout = 0")
                    .execute(&mut *tx)
                    .await?;
                return Ok(tx);
            }
            Err(e) if lock_not_available(&e) && started.elapsed() < LOCK_GIVE_UP => {
                let _ = tx.rollback().await;
                tracing::debug!("the change lock is held; trying again");
                tokio::time::sleep(LOCK_PAUSE).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `55P03`: `lock_timeout` ran out.
fn lock_not_available(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "55P03")
}

/// Takes the change lock shared, for the rest of `tx` (ingest commits).
pub async fn lock_shared(tx: &mut Tx<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(CHANGE_LOCK)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Appends a change and announces it when the transaction commits. Returns its `seq`.
pub async fn append(
    tx: &mut Tx<'_>,
    subscription_id: Uuid,
    version: i64,
    kind: ChangeKind,
) -> Result<i64, sqlx::Error> {
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO subscription_changes (subscription_id, version, kind) VALUES ($1, $2, $3) \
         RETURNING seq",
    )
    .bind(subscription_id)
    .bind(version)
    .bind(kind.as_str())
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(seq.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(seq)
}

/// Changes after `seq`, in order, at most `limit`.
pub async fn after(pool: &PgPool, seq: i64, limit: i64) -> Result<Vec<Change>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, subscription_id, version, kind, at FROM subscription_changes \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(seq)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The newest `seq` and the oldest kept (0 and 0 when the log is empty).
pub async fn bounds(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as("SELECT COALESCE(max(seq), 0), COALESCE(min(seq), 0) FROM subscription_changes")
        .fetch_one(pool)
        .await
}

/// Deletes log entries older than `before` (a directory further behind reloads fully).
pub async fn prune(pool: &PgPool, before: DateTime<Utc>, batch: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM subscription_changes WHERE seq IN \
         (SELECT seq FROM subscription_changes WHERE at < $1 \
          AND seq < (SELECT max(seq) FROM subscription_changes) ORDER BY seq LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(pool)
    .await?
    .rows_affected())
}
