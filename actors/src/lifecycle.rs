//! Subscription lifecycle: the one place a subscription changes. Each transition — create,
//! update, pause, resume, disable, rotate the secret, delete — is one Postgres transaction
//! that holds the exclusive change lock, bumps the row's version, does the transition's
//! effect on deliveries (pause and disable hold them, resume releases them, delete fails
//! them), and appends to the change log. Nothing else writes a subscription row.
//!
//! What happens after the commit (this node's directory, the Redis cache, waking other
//! nodes, telling the actors) is the engine's `committed`, the same for every transition.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::changes::{self, ChangeKind};
use crate::db::subscriptions::{self, SubscriptionRow, SubscriptionSpec, Tx};
use crate::db::{deliveries, health};
use crate::domain::{Invalid, SigningSecret, SubscriptionStatus};

/// A committed transition.
#[derive(Debug, Clone)]
pub struct Committed {
    pub id: Uuid,
    pub kind: ChangeKind,
    pub version: i64,
    pub seq: i64,
    /// The row now; `None` after a delete.
    pub row: Option<SubscriptionRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("subscription not found")]
    NotFound,
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("the change could not be stored")]
    Db(#[from] sqlx::Error),
}

async fn commit(
    mut tx: Tx<'_>,
    kind: ChangeKind,
    row: SubscriptionRow,
) -> Result<Committed, LifecycleError> {
    let seq = changes::append(&mut tx, row.id, row.version, kind).await?;
    tx.commit().await?;
    Ok(Committed {
        id: row.id,
        kind,
        version: row.version,
        seq,
        row: Some(row),
    })
}

pub async fn create(
    db: &PgPool,
    spec: &SubscriptionSpec,
    secret: &SigningSecret,
    requires_signature: bool,
) -> Result<Committed, LifecycleError> {
    let mut tx = changes::begin_change(db).await?;
    let row =
        subscriptions::insert(&mut tx, Uuid::now_v7(), spec, secret, requires_signature).await?;
    commit(tx, ChangeKind::Created, row).await
}

/// Replaces the spec with what `change` computes from the current row (PUT and PATCH).
pub async fn update(
    db: &PgPool,
    id: Uuid,
    change: impl FnOnce(&SubscriptionRow) -> Result<SubscriptionSpec, Invalid>,
) -> Result<Committed, LifecycleError> {
    let mut tx = changes::begin_change(db).await?;
    let current = subscriptions::lock(&mut tx, id)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    let spec = change(&current)?;
    let row = subscriptions::update_spec(&mut tx, id, &spec).await?;
    commit(tx, ChangeKind::Updated, row).await
}

/// Pause, resume or disable, with the effect on deliveries in the same transaction: pause
/// and disable hold every unfinished delivery; resume releases them (due now) and starts the
/// failing streak over.
pub async fn set_status(
    db: &PgPool,
    id: Uuid,
    status: SubscriptionStatus,
    reason: Option<&str>,
) -> Result<Committed, LifecycleError> {
    let mut tx = changes::begin_change(db).await?;
    let row = subscriptions::set_status(&mut tx, id, status, reason)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    let kind = match status {
        SubscriptionStatus::Active => {
            let released = deliveries::release_held(&mut tx, id).await?;
            health::reset(&mut tx, id).await?;
            tracing::info!(%id, released, "held deliveries released");
            ChangeKind::Resumed
        }
        SubscriptionStatus::Paused => {
            deliveries::hold_all(&mut tx, id).await?;
            ChangeKind::Paused
        }
        SubscriptionStatus::Disabled => {
            deliveries::hold_all(&mut tx, id).await?;
            ChangeKind::Disabled
        }
    };
    commit(tx, kind, row).await
}

/// A new signing secret; the old one keeps signing until `overlap_until`.
pub async fn rotate_secret(
    db: &PgPool,
    id: Uuid,
    secret: &SigningSecret,
    overlap_until: DateTime<Utc>,
) -> Result<Committed, LifecycleError> {
    let mut tx = changes::begin_change(db).await?;
    let row = subscriptions::rotate_secret(&mut tx, id, secret, overlap_until)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    commit(tx, ChangeKind::SecretRotated, row).await
}

/// Soft-deletes; its unfinished deliveries end as failed ("subscription deleted").
pub async fn delete(db: &PgPool, id: Uuid) -> Result<Committed, LifecycleError> {
    let mut tx = changes::begin_change(db).await?;
    let version = subscriptions::soft_delete(&mut tx, id)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    deliveries::fail_unfinished(&mut tx, id, "subscription deleted").await?;
    let seq = changes::append(&mut tx, id, version, ChangeKind::Deleted).await?;
    tx.commit().await?;
    Ok(Committed {
        id,
        kind: ChangeKind::Deleted,
        version,
        seq,
        row: None,
    })
}
