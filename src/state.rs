//! What every request handler can reach: the pools, the engine and the settings.

use std::sync::Arc;

use courier_actors::cache::RedisPool;
use courier_actors::engine::Engine;
use sqlx::PgPool;

use crate::settings::Settings;

pub struct AppState {
    pub db: PgPool,
    pub redis: RedisPool,
    pub engine: Engine,
    pub settings: Arc<Settings>,
}
