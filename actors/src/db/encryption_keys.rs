//! The `encryption_keys` table: keys Courier generated because `COURIER_ENCRYPTION_KEY` was
//! unset. Only `crypto::load` calls this; nothing else reads key material.

use sqlx::PgPool;

/// One stored key (base64 of 32 bytes) and its id.
#[derive(Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub id: String,
    pub key_b64: String,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey").field("id", &self.id).finish()
    }
}

/// The stored keys, oldest first, and whether this call inserted the only one.
#[derive(Debug)]
pub struct StoredKeys {
    pub keys: Vec<StoredKey>,
    pub inserted: bool,
}

pub async fn load(pool: &PgPool) -> Result<StoredKeys, sqlx::Error> {
    let keys = sqlx::query_as("SELECT id, key_b64 FROM encryption_keys ORDER BY created_at, id")
        .fetch_all(pool)
        .await?;
    Ok(StoredKeys {
        keys,
        inserted: false,
    })
}

/// The stored keys; when there are none, stores `fresh_b64` (named by `id_of`) first. A
/// transaction-scoped advisory lock makes nodes that start together agree on one key.
pub async fn load_or_insert(
    pool: &PgPool,
    fresh_b64: &str,
    id_of: impl Fn(&str) -> String,
) -> Result<StoredKeys, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('courier.encryption_keys'))")
        .execute(&mut *tx)
        .await?;
    let keys: Vec<StoredKey> =
        sqlx::query_as("SELECT id, key_b64 FROM encryption_keys ORDER BY created_at, id")
            .fetch_all(&mut *tx)
            .await?;
    if !keys.is_empty() {
        tx.commit().await?;
        return Ok(StoredKeys {
            keys,
            inserted: false,
        });
    }
    let key = StoredKey {
        id: id_of(fresh_b64),
        key_b64: fresh_b64.to_owned(),
    };
    sqlx::query("INSERT INTO encryption_keys (id, key_b64) VALUES ($1, $2)")
        .bind(&key.id)
        .bind(&key.key_b64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(StoredKeys {
        keys: vec![key],
        inserted: true,
    })
}
