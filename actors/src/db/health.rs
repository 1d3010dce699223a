//! `subscription_health`: what the owning node has learned about a subscription's receiver
//! (the failing streak, the adaptive concurrency). Only the owner writes it, inside its fenced outcome batches
//! ([`super::outcomes`]); the API reads it beside the subscription.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A subscription's health as its owner keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Health {
    pub failing_since: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Health, sqlx::Error> {
    let row: Option<Health> = sqlx::query_as(
        "SELECT failing_since, consecutive_failures FROM subscription_health \
         WHERE subscription_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.unwrap_or_default())
}

/// Health of several subscriptions (missing ones are healthy).
pub async fn get_many(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, Health)>, sqlx::Error> {
    let rows: Vec<(Uuid, Option<DateTime<Utc>>, i32)> = sqlx::query_as(
        "SELECT subscription_id, failing_since, consecutive_failures FROM subscription_health \
         WHERE subscription_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, failing_since, consecutive_failures)| {
            (
                id,
                Health {
                    failing_since,
                    consecutive_failures,
                },
            )
        })
        .collect())
}

/// The adaptive concurrency each subscription's owner last recorded (absent: never cut).
pub async fn concurrency_of(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, i32>, sqlx::Error> {
    let rows: Vec<(Uuid, i32)> = sqlx::query_as(
        "SELECT subscription_id, concurrency FROM subscription_health \
         WHERE subscription_id = ANY($1) AND concurrency IS NOT NULL",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Clears the streak (a resume starts it over). Part of the change's transaction.
pub async fn reset(tx: &mut super::subscriptions::Tx<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM subscription_health WHERE subscription_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
