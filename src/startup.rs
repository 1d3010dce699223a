//! Building the application: connect to Postgres (creating and migrating the database) and
//! Redis, start the actor system, bind the HTTP server. Tests build it on port 0 the same way
//! `main` does.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{ErrorHandlers, NormalizePath, from_fn};
use actix_web::{App, HttpServer, web};
use courier_actors::access::KeyStore;
use courier_actors::cache;
use courier_actors::catalog::Catalog;
use courier_actors::crypto;
use courier_actors::db;
use courier_actors::engine::{Engine, EngineError};

use crate::routes;
use crate::settings::{Settings, redact_url};
use crate::state::AppState;
use crate::telemetry::request_span;

/// Why the application could not start. Each message names the variable to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("DATABASE_URL ({url}): {source}")]
    Database {
        url: String,
        source: db::ConnectError,
    },
    #[error("REDIS_URL ({url}): not a valid Redis URL: {source}")]
    RedisUrl {
        url: String,
        source: bb8_redis::redis::RedisError,
    },
    #[error("REDIS_URL ({url}): cannot reach Redis: {reason}")]
    RedisUnreachable { url: String, reason: String },
    #[error("COURIER_NODE_ID: {0}")]
    NodeId(courier_actors::ownership::IdentityError),
    #[error("DATABASE_URL ({url}): cannot start the delivery engine: {source}")]
    Engine { url: String, source: sqlx::Error },
    #[error("COURIER_ENCRYPTION_KEY: {0}")]
    EncryptionKey(courier_actors::crypto::KeyRingError),
    #[error("COURIER_BIND ({addr}): cannot listen: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Application {
    port: u16,
    server: Server,
    engine: Engine,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let settings = Arc::new(settings);
        crate::observability::handle();
        let db_url = settings.database_url.expose();
        let pool = db::connect_and_migrate(db_url, settings.db_pool_size)
            .await
            .map_err(|source| StartupError::Database {
                url: redact_url(db_url),
                source,
            })?;
        let (keyring, _) =
            crypto::load(&pool, settings.encryption_key.as_ref().map(|k| k.expose()))
                .await
                .map_err(StartupError::EncryptionKey)?;
        let redis_url = settings.redis_url.expose();
        let redis = cache::redis_pool(redis_url, 32).map_err(|source| StartupError::RedisUrl {
            url: redact_url(redis_url),
            source,
        })?;
        cache::ping(&redis)
            .await
            .map_err(|reason| StartupError::RedisUnreachable {
                url: redact_url(redis_url),
                reason,
            })?;
        let keyring = Arc::new(keyring);
        let engine = Engine::start(
            settings.engine_config(),
            pool.clone(),
            redis.clone(),
            keyring.clone(),
        )
        .await
        .map_err(|e| match e {
            EngineError::Identity(e) => StartupError::NodeId(e),
            EngineError::Db(source) => StartupError::Engine {
                url: redact_url(db_url),
                source,
            },
        })?;
        let state = web::Data::new(AppState {
            keys: Arc::new(KeyStore::new(pool.clone(), settings.api_key.expose())),
            keyring,
            catalog: Arc::new(Catalog::new(pool.clone(), settings.catalog_config())),
            db: pool,
            redis,
            engine: engine.clone(),
            settings: settings.clone(),
        });
        let listener = TcpListener::bind(&settings.bind).map_err(|source| StartupError::Bind {
            addr: settings.bind.clone(),
            source,
        })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let server =
            http_server(state, &settings, listener).map_err(|source| StartupError::Bind {
                addr: settings.bind.clone(),
                source,
            })?;
        Ok(Self {
            port,
            server,
            engine,
        })
    }

    /// The engine, for tests that step background work (flush, sweep, retention).
    pub fn engine(&self) -> Engine {
        self.engine.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the HTTP server (gracefully with `stop(true)`); `run_until_stopped` then returns.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped, then stops the actor system and waits for it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        tracing::info!("http server stopped; stopping the delivery engine");
        self.engine.shutdown().await;
        tracing::info!("delivery engine stopped");
        result
    }
}

fn http_server(
    state: web::Data<AppState>,
    settings: &Settings,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let max_body = settings.max_body;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(routes::configure(max_body))
            .default_service(web::to(routes::not_found))
            .wrap(ErrorHandlers::new().default_handler_client(routes::json_client_errors))
            .wrap(NormalizePath::trim())
            .wrap(from_fn(request_span))
    })
    .workers(settings.workers)
    // main handles SIGTERM/SIGINT so it can stop the engine after the server.
    .disable_signals()
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}
