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

use crate::crypto::{KeyRing, OpenError};
use crate::db::changes::{self, ChangeKind};
use crate::db::subscriptions::{self, NewSubscription, SubscriptionRow, SubscriptionSpec, Tx};
use crate::db::{deliveries, health};
use crate::domain::{Invalid, SigningSecret, SubscriptionStatus};
use crate::secrets;

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
    #[error("a stored secret cannot be opened with the configured keys")]
    Sealed(#[from] OpenError),
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
    ring: &KeyRing,
    application_id: Uuid,
    spec: &SubscriptionSpec,
    secret: &SigningSecret,
    requires_signature: bool,
) -> Result<Committed, LifecycleError> {
    let id = Uuid::now_v7();
    let sealed_secret = secrets::seal_secret(ring, id, secret);
    let sealed_headers = secrets::seal_headers(ring, id, &spec.headers);
    let mut tx = changes::begin_change(db).await?;
    let new = NewSubscription {
        id,
        application_id,
        spec,
        sealed_secret: &sealed_secret,
        sealed_headers: &sealed_headers,
        requires_signature,
    };
    let row = subscriptions::insert(&mut tx, &new).await?;
    commit(tx, ChangeKind::Created, row).await
}

/// Keeps exactly one live subscription of `application_id` whose description is `marker`,
/// delivering to `spec`'s target (created, or its target updated; nothing when it already
/// matches). The check and the change are one transaction under the change lock, so nodes
/// starting together make one, not several.
pub async fn ensure_managed(
    db: &PgPool,
    ring: &KeyRing,
    application_id: Uuid,
    spec: &SubscriptionSpec,
) -> Result<Option<Committed>, LifecycleError> {
    let mut tx = changes::begin_change(db).await?;
    let marker = spec.description.clone().unwrap_or_default();
    let existing = subscriptions::find_by_description(&mut tx, application_id, &marker).await?;
    let row = match existing {
        Some(row) if row.target_url == spec.target_url.as_str() => return Ok(None),
        Some(row) => {
            let mut new = SubscriptionSpec::from_row(&row, row.extra_headers(ring)?);
            new.target_url = spec.target_url.clone();
            let sealed = secrets::seal_headers(ring, row.id, &new.headers);
            subscriptions::update_spec(&mut tx, row.id, &new, &sealed).await?
        }
        None => {
            let id = Uuid::now_v7();
            let secret = SigningSecret::generate();
            let (s, h) = (
                secrets::seal_secret(ring, id, &secret),
                secrets::seal_headers(ring, id, &spec.headers),
            );
            let new = NewSubscription {
                id,
                application_id,
                spec,
                sealed_secret: &s,
                sealed_headers: &h,
                requires_signature: false,
            };
            subscriptions::insert(&mut tx, &new).await?
        }
    };
    let kind = if row.version == 1 {
        ChangeKind::Created
    } else {
        ChangeKind::Updated
    };
    commit(tx, kind, row).await.map(Some)
}

/// Replaces the spec with what `change` computes from the current one (PUT and PATCH).
/// (A subscription never moves between applications, so callers check the application
/// before.)
pub async fn update(
    db: &PgPool,
    ring: &KeyRing,
    id: Uuid,
    change: impl FnOnce(SubscriptionSpec) -> Result<SubscriptionSpec, Invalid>,
) -> Result<Committed, LifecycleError> {
    let mut tx = changes::begin_change(db).await?;
    let current = subscriptions::lock(&mut tx, id)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    let spec = change(SubscriptionSpec::from_row(
        &current,
        current.extra_headers(ring)?,
    ))?;
    let sealed_headers = secrets::seal_headers(ring, id, &spec.headers);
    let row = subscriptions::update_spec(&mut tx, id, &spec, &sealed_headers).await?;
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
    ring: &KeyRing,
    id: Uuid,
    secret: &SigningSecret,
    overlap_until: DateTime<Utc>,
) -> Result<Committed, LifecycleError> {
    let sealed = secrets::seal_secret(ring, id, secret);
    let mut tx = changes::begin_change(db).await?;
    let row = subscriptions::rotate_secret(&mut tx, id, &sealed, overlap_until)
        .await?
        .ok_or(LifecycleError::NotFound)?;
    commit(tx, ChangeKind::SecretRotated, row).await
}

/// Reseals a subscription's secrets and headers with the ring's first key when any of them
/// needs it (values an older version stored in clear, or sealed with a rotated-out key).
/// `Ok(None)` when nothing needed it.
pub async fn reseal(
    db: &PgPool,
    ring: &KeyRing,
    id: Uuid,
) -> Result<Option<Committed>, LifecycleError> {
    let mut tx = changes::begin_change(db).await?;
    let Some(row) = subscriptions::lock(&mut tx, id).await? else {
        return Ok(None);
    };
    let secret = secrets::reseal_secret(ring, id, &row.secret)?;
    let previous = match &row.previous_secret {
        Some(p) => secrets::reseal_secret(ring, id, p)?,
        None => None,
    };
    let headers = match &row.headers_sealed {
        Some(h) => secrets::reseal_headers(ring, id, h)?,
        None => Some(secrets::seal_headers(ring, id, &row.extra_headers(ring)?)),
    };
    if secret.is_none() && previous.is_none() && headers.is_none() {
        return Ok(None);
    }
    let row = subscriptions::store_resealed(
        &mut tx,
        id,
        secret.as_deref().unwrap_or(&row.secret),
        previous.as_deref().or(row.previous_secret.as_deref()),
        headers
            .as_deref()
            .or(row.headers_sealed.as_deref())
            .unwrap_or_default(),
    )
    .await?
    .ok_or(LifecycleError::NotFound)?;
    commit(tx, ChangeKind::Resealed, row).await.map(Some)
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
