//! The engine: what the HTTP server holds. It starts the actor tree (supervisor,
//! persistence, retention), loads the subscription directory, and is the one door routes use
//! into the actors: store an ingest, hand over committed deliveries, re-queue, report changes,
//! flush, stop.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::cache::{RedisPool, SubscriptionCache};
use crate::db::deliveries::{self, AttemptRecord};
use crate::db::messages::{IngestItem, IngestResult};
use crate::db::subscriptions;
use crate::directory::Directory;
use crate::domain::SubscriptionStatus;
use crate::job::DeliveryJob;
use crate::messages::{
    Dispatch, EngineLoad, Enqueue, Flush, GetLoad, Ingest, Shutdown, SubscriptionChanged, SweepNow,
};
use crate::persistence::{PersistError, PersistenceActor};
use crate::retention::{RetentionActor, RetentionPolicy, RetentionReport, RunOnce};
use crate::retry::RetrySchedule;
use crate::retry_store::RetryStore;
use crate::supervisor::Supervisor;

/// Everything the engine is told by configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub node_id: String,
    /// Redis, for the subscription-change feed's own connection.
    pub redis_url: String,
    pub redis_prefix: String,
    pub retry_schedule: RetrySchedule,
    pub delivery_timeout: Duration,
    pub allow_private_targets: bool,
    pub disable_after: Duration,
    pub retry_after_cap: Duration,
    pub cache_ttl: Duration,
    pub retention: RetentionPolicy,
    pub sweep_interval: Duration,
    pub heartbeat_ttl: Duration,
    /// Attempts in flight at once on this node, all subscriptions together.
    pub max_attempts_in_flight: usize,
}

/// One finished attempt, as the live stream shows it.
#[derive(Debug, Clone)]
pub struct AttemptEvent {
    pub subscription_id: Uuid,
    pub delivery_id: Uuid,
    pub message_id: Uuid,
    pub event_type: String,
    pub delivery_status: &'static str,
    pub attempt: AttemptRecord,
}

/// What every actor shares.
pub struct EngineDeps {
    pub db: PgPool,
    pub config: EngineConfig,
    pub persistence: Addr<PersistenceActor>,
    pub directory: Directory,
    pub cache: SubscriptionCache,
    pub retry_store: RetryStore,
    pub events: broadcast::Sender<AttemptEvent>,
    /// Node-wide attempt permits (`max_attempts_in_flight`).
    pub attempt_permits: Arc<tokio::sync::Semaphore>,
}

impl EngineDeps {
    pub fn publish(&self, event: AttemptEvent) {
        // No listener is fine: the stream is best-effort; the log is in Postgres.
        let _ = self.events.send(event);
    }

    /// Disables a subscription with a reason and holds its unfinished deliveries.
    pub async fn disable(&self, id: Uuid, reason: &str) {
        match subscriptions::set_status(&self.db, id, SubscriptionStatus::Disabled, Some(reason))
            .await
        {
            Ok(Some(row)) => {
                self.directory.upsert(row);
                if let Err(e) = deliveries::hold_all(&self.db, id).await {
                    tracing::error!(error = %e, %id, "cannot hold deliveries of a disabled subscription");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, %id, "cannot disable subscription"),
        }
        self.cache.invalidate(id).await;
        crate::changes::publish(
            self.cache.redis(),
            &self.config.redis_prefix,
            &self.config.node_id,
            id,
        )
        .await;
    }

    pub async fn set_failing_since(&self, id: Uuid, since: Option<DateTime<Utc>>) {
        if let Err(e) = subscriptions::set_failing_since(&self.db, id, since).await {
            tracing::warn!(error = %e, %id, "cannot record the subscription's failing streak");
        }
    }
}

/// `Clone + Send`: every HTTP worker holds a copy.
#[derive(Clone)]
pub struct Engine {
    deps: Arc<EngineDeps>,
    supervisor: Addr<Supervisor>,
    retention: Addr<RetentionActor>,
}

impl Engine {
    /// Loads the directory, starts the actors on their own threads, registers this node.
    pub async fn start(
        config: EngineConfig,
        db: PgPool,
        redis: RedisPool,
    ) -> Result<Self, sqlx::Error> {
        let directory = Directory::default();
        directory.replace_all(subscriptions::list_all_live(&db).await?);
        let retry_store = RetryStore::new(redis.clone(), &config.redis_prefix);
        let cache = SubscriptionCache::new(redis, config.redis_prefix.clone(), config.cache_ttl);
        let persistence = {
            let (db, store, ttl) = (
                db.clone(),
                retry_store.clone(),
                config.retention.idempotency_ttl,
            );
            PersistenceActor::start_in_arbiter(&Arbiter::new().handle(), move |_| {
                PersistenceActor::new(db, store, ttl)
            })
        };
        let (events, _) = broadcast::channel(4096);
        let retention_policy = config.retention.clone();
        let attempt_permits = Arc::new(tokio::sync::Semaphore::new(
            config.max_attempts_in_flight.max(1),
        ));
        let deps = Arc::new(EngineDeps {
            db: db.clone(),
            config,
            persistence,
            directory,
            cache,
            retry_store,
            events,
            attempt_permits,
        });
        let supervisor = Supervisor::start_with(deps.clone()).await;
        let retention = RetentionActor::new(db, retention_policy).start();
        let engine = Self {
            deps,
            supervisor,
            retention,
        };
        engine.follow_other_nodes();
        Ok(engine)
    }

    /// Applies other nodes' subscription changes to this node as they are published.
    fn follow_other_nodes(&self) {
        let c = &self.deps.config;
        let (url, prefix, me) = (
            c.redis_url.clone(),
            c.redis_prefix.clone(),
            c.node_id.clone(),
        );
        let engine = self.clone();
        actix::spawn(crate::changes::listen(url, prefix, me, move |id| {
            let engine = engine.clone();
            async move { engine.reload_subscription(id).await }
        }));
    }

    /// Re-reads a subscription changed elsewhere into the directory and tells its actor.
    pub async fn reload_subscription(&self, id: Uuid) {
        match subscriptions::get(&self.deps.db, id).await {
            Ok(Some(row)) => self.deps.directory.upsert(row),
            Ok(None) => self.deps.directory.remove(id),
            Err(e) => {
                tracing::warn!(error = %e, %id, "cannot reload a subscription changed on another node");
                return;
            }
        }
        self.subscription_changed(id);
    }

    /// Tells the other nodes that a subscription changed (this node already knows).
    pub async fn publish_change(&self, id: Uuid) {
        let c = &self.deps.config;
        crate::changes::publish(self.deps.cache.redis(), &c.redis_prefix, &c.node_id, id).await;
    }

    pub fn directory(&self) -> &Directory {
        &self.deps.directory
    }

    pub fn cache(&self) -> &SubscriptionCache {
        &self.deps.cache
    }

    pub fn config(&self) -> &EngineConfig {
        &self.deps.config
    }

    /// Stores an ingest; resolves after its commit.
    pub async fn ingest(&self, item: IngestItem) -> Result<IngestResult, PersistError> {
        self.deps
            .persistence
            .send(Ingest(item))
            .await
            .unwrap_or(Err(PersistError::Stopped))
    }

    /// Hands committed deliveries (with payloads) to their subscription actors.
    pub fn dispatch(&self, jobs: Vec<DeliveryJob>) {
        if !jobs.is_empty() {
            self.supervisor.do_send(Dispatch { jobs });
        }
    }

    /// Hands deliveries known by id (due now) to their subscription's actor.
    pub fn requeue(&self, subscription_id: Uuid, ids: Vec<Uuid>) {
        if ids.is_empty() {
            return;
        }
        let now = Utc::now().timestamp_millis();
        let deliveries = ids.into_iter().map(|id| (id, now)).collect();
        self.supervisor.do_send(Enqueue {
            subscription_id,
            deliveries,
            force: true,
        });
    }

    /// The directory already holds the change; the actors re-read it.
    pub fn subscription_changed(&self, id: Uuid) {
        self.supervisor.do_send(SubscriptionChanged { id });
    }

    /// Waits until every outcome reported so far is written.
    pub async fn flush(&self) {
        let _ = self.deps.persistence.send(Flush).await;
    }

    /// Runs the sweeper now; returns how many deliveries it handed over.
    pub async fn sweep_now(&self) -> usize {
        self.supervisor.send(SweepNow).await.unwrap_or(0)
    }

    /// Runs the retention actor now.
    pub async fn run_retention(&self) -> Option<RetentionReport> {
        self.retention.send(RunOnce).await.ok().flatten()
    }

    pub async fn load(&self) -> EngineLoad {
        self.supervisor.send(GetLoad).await.unwrap_or_default()
    }

    /// The live stream of finished attempts.
    pub fn subscribe(&self) -> broadcast::Receiver<AttemptEvent> {
        self.deps.events.subscribe()
    }

    /// Stops the actors and writes what the persistence actor still holds.
    pub async fn shutdown(&self) {
        let _ = self.supervisor.send(Shutdown).await;
        self.retention.do_send(Shutdown);
        self.flush().await;
    }
}
