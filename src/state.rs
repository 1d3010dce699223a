//! What every request handler can reach: the pools, the engine and the settings, and
//! tenancy's handles: the credential store, the encryption key ring and the catalog.

use std::sync::Arc;

use courier_actors::access::KeyStore;
use courier_actors::cache::RedisPool;
use courier_actors::catalog::Catalog;
use courier_actors::crypto::KeyRing;
use courier_actors::engine::Engine;
use sqlx::PgPool;

use crate::settings::Settings;

pub struct AppState {
    pub db: PgPool,
    pub redis: RedisPool,
    pub engine: Engine,
    pub settings: Arc<Settings>,
    /// API keys and sessions: who a request is.
    pub keys: Arc<KeyStore>,
    /// Seals and opens secrets stored in Postgres and Redis.
    pub keyring: Arc<KeyRing>,
    /// The event-type catalog with compiled schemas.
    pub catalog: Arc<Catalog>,
}
