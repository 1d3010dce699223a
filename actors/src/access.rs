//! Credentials: the bootstrap key (`COURIER_API_KEY`), named API keys, browser sessions and
//! consumer-portal sessions ([`portal`]), and what each one grants ([`Grant`]). The HTTP
//! layer asks the [`KeyStore`] who a request is; it never looks at key rows itself.
//!
//! **Why SHA-256 and not argon2.** A key token carries 256 random bits (a session token
//! too). Slow password hashes exist to make guessing low-entropy passwords expensive; nobody
//! can enumerate 2^256 candidates however fast the hash is, so a stolen `token_hash` column
//! reveals nothing usable, while a fast hash keeps per-request authentication at a few
//! microseconds instead of tens of milliseconds of CPU per request.
//!
//! **Revocation within a second on every node.** Validated tokens are cached in memory for
//! at most [`CACHE_TTL`] (1 s); after that the next request checks Postgres again. The node
//! that revokes a key drops its cache entries at once, and revoking a key deletes its
//! sessions in the same transaction. `last_used_at` is written at most once a minute per key
//! and node ([`TOUCH_EVERY`]), by a spawned task, never on the request's path.
//!
//! Must never happen: a token or its hash in a log line; a revoked key or an expired session
//! accepted more than [`CACHE_TTL`] after the change; a session outliving the credential it
//! was made from (changing `COURIER_API_KEY` ends bootstrap sessions: each stores
//! HMAC-SHA256(bootstrap key, token), checked on use).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::db::api_keys::{self, ApiKeyRow, NewApiKey};
use crate::db::sessions::{self, NewSession};

/// How long a validated token is trusted without asking Postgres again.
pub const CACHE_TTL: Duration = Duration::from_secs(1);
/// How often, at most, a key's `last_used_at` is written (per node).
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Most cached tokens; past it, the cache is emptied.
const CACHE_MAX: usize = 10_000;

const KEY_PREFIX: &str = "ck_";
const SESSION_PREFIX: &str = "cs_";
const SECRET_BYTES: usize = 32;

/// What a principal may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything.
    Admin,
    /// Only this application's routes.
    Application(Uuid),
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Application(_) => "application",
        }
    }

    pub fn application_id(self) -> Option<Uuid> {
        match self {
            Self::Admin => None,
            Self::Application(id) => Some(id),
        }
    }

    fn from_row(scope: &str, application_id: Option<Uuid>) -> Option<Self> {
        match (scope, application_id) {
            ("admin", None) => Some(Self::Admin),
            ("application", Some(id)) => Some(Self::Application(id)),
            _ => None,
        }
    }
}

/// Who a request is, once authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub scope: Scope,
    /// The named key behind it; `None` for the bootstrap key.
    pub key_id: Option<Uuid>,
    /// When it came from a session cookie: its expiry (state-changing requests then need
    /// the CSRF header). Portal sessions carry their expiry too.
    pub session_expires_at: Option<DateTime<Utc>>,
    /// Set for a consumer-portal session (see [`portal`]): always of
    /// [`Scope::Application`], and limited to the portal's routes.
    pub portal: Option<PortalGrant>,
}

/// What a consumer-portal session adds to its application scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalGrant {
    /// The portal link it was opened from (revoking the link ends the session).
    pub link_id: Uuid,
    /// Only reads: every state-changing request is refused.
    pub read_only: bool,
}

/// SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Constant-time equality of two byte strings, via their digests (neither content nor
/// length leaks).
pub fn keys_match(given: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(given);
    let b = Sha256::digest(expected);
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn random_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The visible start of key `id`'s token: `ck_` and the id's last 12 hex digits (random
/// bits of a UUIDv7).
pub fn key_prefix(id: Uuid) -> String {
    let hex = id.simple().to_string();
    format!("{KEY_PREFIX}{}", &hex[hex.len() - 12..])
}

/// A new token for key `id`: `ck_<12 hex>_<43 base64url characters>` (256 random bits).
pub fn new_key_token(id: Uuid) -> String {
    format!("{}_{}", key_prefix(id), random_secret())
}

/// Whether a bearer token has the shape of a named key (no database needed to refuse
/// others).
pub fn looks_like_key(token: &str) -> bool {
    let Some(rest) = token.strip_prefix(KEY_PREFIX) else {
        return false;
    };
    let Some((short, secret)) = rest.split_once('_') else {
        return false;
    };
    short.len() == 12
        && short.bytes().all(|b| b.is_ascii_hexdigit())
        && secret.len() == 43
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn looks_like_session(token: &str) -> bool {
    token.strip_prefix(SESSION_PREFIX).is_some_and(|s| {
        s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[derive(Clone, Copy)]
struct Cached {
    grant: Grant,
    checked_at: Instant,
}

/// Authenticates bearer tokens and session tokens, creates and revokes keys and sessions.
pub struct KeyStore {
    pool: PgPool,
    bootstrap: Vec<u8>,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    touched: Mutex<HashMap<Uuid, Instant>>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyStore")
    }
}

impl KeyStore {
    pub fn new(pool: PgPool, bootstrap_key: &str) -> Self {
        Self {
            pool,
            bootstrap: bootstrap_key.as_bytes().to_vec(),
            cache: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashMap::new()),
        }
    }

    /// Who a bearer token is: the bootstrap key, a live named key, or nobody (`None`).
    pub async fn authenticate_bearer(&self, token: &str) -> Result<Option<Grant>, sqlx::Error> {
        if keys_match(token.as_bytes(), &self.bootstrap) {
            return Ok(Some(Grant {
                scope: Scope::Admin,
                key_id: None,
                session_expires_at: None,
                portal: None,
            }));
        }
        if !looks_like_key(token) {
            return Ok(None);
        }
        let hash = hash_token(token);
        if let Some(grant) = self.cached(&hash) {
            self.touch(grant.key_id);
            return Ok(Some(grant));
        }
        let Some(row) = api_keys::find_live_by_hash(&self.pool, &hash).await? else {
            return Ok(None);
        };
        let Some(scope) = Scope::from_row(&row.scope, row.application_id) else {
            return Ok(None);
        };
        let grant = Grant {
            scope,
            key_id: Some(row.id),
            session_expires_at: None,
            portal: None,
        };
        self.remember(hash, grant);
        self.touch(grant.key_id);
        Ok(Some(grant))
    }

    /// Who a session token is, while the session and its credential are live.
    pub async fn authenticate_session(&self, token: &str) -> Result<Option<Grant>, sqlx::Error> {
        if !looks_like_session(token) {
            return Ok(None);
        }
        let hash = hash_token(token);
        if let Some(grant) = self.cached(&hash)
            && grant.session_expires_at.is_some_and(|t| t > Utc::now())
        {
            self.touch(grant.key_id);
            return Ok(Some(grant));
        }
        let Some(row) = sessions::find_live(&self.pool, &hash).await? else {
            return Ok(None);
        };
        let scope = match row.kind.as_str() {
            "bootstrap" => {
                let ok = row
                    .bootstrap_check
                    .as_deref()
                    .is_some_and(|check| self.bootstrap_mac(token).verify_slice(check).is_ok());
                if !ok {
                    return Ok(None);
                }
                Scope::Admin
            }
            _ => match row.scope.as_deref() {
                Some(s) => match Scope::from_row(s, row.application_id) {
                    Some(scope) => scope,
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
        };
        let grant = Grant {
            scope,
            key_id: row.api_key_id,
            session_expires_at: Some(row.expires_at),
            portal: None,
        };
        self.remember(hash, grant);
        self.touch(grant.key_id);
        Ok(Some(grant))
    }

    fn bootstrap_mac(&self, token: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.bootstrap)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(token.as_bytes());
        mac
    }

    /// Creates a named key; returns it and its token (shown once, never stored).
    pub async fn create_key(
        &self,
        name: &str,
        scope: Scope,
    ) -> Result<(ApiKeyRow, String), sqlx::Error> {
        let id = Uuid::now_v7();
        let token = new_key_token(id);
        let prefix = key_prefix(id);
        let hash = hash_token(&token);
        let row = api_keys::insert(
            &self.pool,
            &NewApiKey {
                id,
                name,
                scope: scope.as_str(),
                application_id: scope.application_id(),
                prefix: &prefix,
                token_hash: &hash,
            },
        )
        .await?;
        Ok((row, token))
    }

    /// Revokes key `id` and its sessions; false when no live key has that id.
    pub async fn revoke_key(&self, id: Uuid) -> Result<bool, sqlx::Error> {
        let done = api_keys::revoke(&self.pool, id).await?;
        self.forget_keys(&[id]);
        Ok(done)
    }

    /// Drops this node's cached tokens and sessions of these keys (after they were revoked
    /// in a transaction of the caller's, e.g. deleting an application).
    pub fn forget_keys(&self, ids: &[Uuid]) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, c| c.grant.key_id.is_none_or(|k| !ids.contains(&k)));
        }
    }

    /// Starts a session worth `grant`, for `ttl`; returns its token and expiry. A portal
    /// grant is refused (portal sessions come only from [`KeyStore::open_portal_link`]).
    pub async fn create_session(
        &self,
        grant: &Grant,
        ttl: Duration,
    ) -> Result<(String, DateTime<Utc>), sqlx::Error> {
        if grant.portal.is_some() || (grant.key_id.is_none() && grant.scope != Scope::Admin) {
            return Err(sqlx::Error::InvalidArgument(
                "a browser session is made only from an API key".into(),
            ));
        }
        let token = format!("{SESSION_PREFIX}{}", random_secret());
        let hash = hash_token(&token);
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(8));
        let expires_at = Utc::now() + ttl;
        let check = grant
            .key_id
            .is_none()
            .then(|| self.bootstrap_mac(&token).finalize().into_bytes().to_vec());
        sessions::insert(
            &self.pool,
            &NewSession {
                token_hash: &hash,
                kind: if grant.key_id.is_some() {
                    "api_key"
                } else {
                    "bootstrap"
                },
                api_key_id: grant.key_id,
                bootstrap_check: check.as_deref(),
                expires_at,
            },
        )
        .await?;
        // Expired rows go a few at a time, whenever someone logs in.
        sessions::delete_expired(&self.pool, 100).await?;
        Ok((token, expires_at))
    }

    /// Ends a session (logout); false when there was none.
    pub async fn end_session(&self, token: &str) -> Result<bool, sqlx::Error> {
        let hash = hash_token(token);
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&hash);
        }
        sessions::delete(&self.pool, &hash).await
    }

    fn cached(&self, hash: &[u8; 32]) -> Option<Grant> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(hash)
            .filter(|c| c.checked_at.elapsed() < CACHE_TTL)
            .map(|c| c.grant)
    }

    fn remember(&self, hash: [u8; 32], grant: Grant) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, c| c.checked_at.elapsed() < CACHE_TTL);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(
            hash,
            Cached {
                grant,
                checked_at: Instant::now(),
            },
        );
    }

    /// Writes `last_used_at` for a named key, at most every [`TOUCH_EVERY`], off the path.
    fn touch(&self, key_id: Option<Uuid>) {
        let Some(id) = key_id else { return };
        {
            let Ok(mut touched) = self.touched.lock() else {
                return;
            };
            if touched.get(&id).is_some_and(|t| t.elapsed() < TOUCH_EVERY) {
                return;
            }
            if touched.len() >= CACHE_MAX {
                touched.retain(|_, t| t.elapsed() < TOUCH_EVERY);
            }
            touched.insert(id, Instant::now());
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = self.pool.clone();
        runtime.spawn(async move {
            if let Err(e) = api_keys::touch(&pool, id).await {
                tracing::debug!(key_id = %id, error = %e, "could not record last_used_at");
            }
        });
    }
}

#[path = "access_portal.rs"]
pub mod portal;

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
