//! The engine: the one door the HTTP server uses into the delivery side. It starts the actor
//! tree (supervisor, persistence, retention), claims the node id, loads the directory and
//! follows the change feed; routes call it to look subscriptions up, change them (through
//! [`crate::lifecycle`]), ingest, requeue, flush and stop.
//!
//! Data flows one way: route → engine → actors → store. An ingest is committed by the
//! persistence actor and then dispatched to the subscription actors (or handed to the node
//! holding the shard) from here, before the route answers.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::cache::{RedisPool, SubscriptionCache};
use crate::capacity::Capacity;
use crate::crypto::KeyRing;
use crate::db::applications::OPS_APP_ID;
use crate::db::deliveries;
use crate::db::messages::{IngestItem, IngestResult, Receipt};
use crate::db::outcomes::AttemptRecord;
use crate::db::subscriptions::{self, SubscriptionRow, SubscriptionSpec};
use crate::directory::{Applied, Directory};
use crate::domain::{DeliveryStatus, EventType, Invalid, SigningSecret, SubscriptionStatus};
use crate::headers::CredentialHeaders;
use crate::health_reads::HealthReads;
use crate::job::DeliveryJob;
use crate::lifecycle::{self, Committed, LifecycleError};
use crate::messages::{
    Dispatch, EngineLoad, Enqueue, Flush, GetLoad, Ingest, Shutdown, SubscriptionsChanged, SweepNow,
};
use crate::ops::{self, OpsEvent};
use crate::ownership::{Identity, IdentityError, Leases};
use crate::persistence::{IngestError, PersistenceActor};
use crate::retention::{RetentionActor, RetentionPolicy, RetentionReport, RunOnce};
use crate::retry::RetrySchedule;
use crate::retry_store::RetryStore;
use crate::subscription::core::CoreConfig;
use crate::supervisor::Supervisor;

/// Everything the engine is told by configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub node_id: String,
    /// Postgres, for the connection that holds the node id.
    pub database_url: String,
    /// Redis, for the change feed's own connection.
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
    /// A lease lasts this long past its last renewal (`COURIER_NODE_TTL`).
    pub heartbeat_ttl: Duration,
    /// Attempts in flight at once on this node, all subscriptions together.
    pub max_attempts_in_flight: usize,
    /// Which request headers are credentials (masked in the stored attempt log).
    pub credential_headers: CredentialHeaders,
    /// Consecutive failed attempts before `subscription.failing`.
    pub failing_after: i32,
    /// Kept as a subscription of `courier-ops` ([`crate::ops`]).
    pub ops_webhook_url: Option<crate::domain::TargetUrl>,
}

/// One finished attempt, as the live stream shows it.
#[derive(Debug, Clone)]
pub struct AttemptEvent {
    pub application_id: Uuid,
    pub subscription_id: Uuid,
    pub delivery_id: Uuid,
    pub message_id: Uuid,
    pub event_type: String,
    pub delivery_status: &'static str,
    pub attempt: AttemptRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("cannot load the subscription directory")]
    Db(#[from] sqlx::Error),
}

/// What every actor shares.
pub struct EngineDeps {
    pub db: PgPool,
    /// A pool of its own for lease renewals and hand-backs, so a busy main pool (ingests,
    /// outcome batches) never delays a renewal past the lease.
    pub lease_db: PgPool,
    pub config: EngineConfig,
    pub core_config: Arc<CoreConfig>,
    pub persistence: Addr<PersistenceActor>,
    pub directory: Directory,
    pub cache: SubscriptionCache,
    pub retry_store: RetryStore,
    pub leases: Leases,
    pub identity: Identity,
    /// Opens the subscriptions' sealed secrets and headers.
    pub keyring: Arc<KeyRing>,
    pub credential_headers: Arc<CredentialHeaders>,
    pub events: broadcast::Sender<AttemptEvent>,
    /// Node-wide attempt permits (`max_attempts_in_flight`), shared fairly.
    pub capacity: Capacity,
    /// Starting actors' health reads, batched.
    pub health_reads: HealthReads,
    /// Subscription actors' page, load and ordering-head reads in progress at once (half the
    /// pool): a sweep that wakes thousands of actors queues them here, not in the pool.
    pub read_slots: Arc<tokio::sync::Semaphore>,
    /// Changes the directory applied, for the supervisor.
    changes: mpsc::UnboundedSender<Applied>,
    /// Set once the supervisor runs (it starts after these dependencies).
    supervisor: std::sync::OnceLock<Addr<Supervisor>>,
}

impl EngineDeps {
    pub fn publish(&self, event: AttemptEvent) {
        // No listener is fine: the stream is best-effort; the log is in Postgres.
        let _ = self.events.send(event);
    }

    /// The supervisor, once it runs (subscription actors tell it when they stop).
    pub fn supervisor(&self) -> Option<&Addr<Supervisor>> {
        self.supervisor.get()
    }

    /// Tells the supervisor what the directory applied.
    pub fn note_applied(&self, applied: Applied) {
        let _ = self.changes.send(applied);
    }

    /// After a committed transition: this node's directory takes it at once, the Redis cache
    /// gets the new version, the actors hear of it, other nodes are woken.
    pub async fn committed(&self, c: &Committed) {
        let applied = match &c.row {
            Some(row) => {
                self.cache.put(row).await;
                self.directory.apply(row.clone()).map(|r| (c.id, Some(r)))
            }
            None => self
                .directory
                .remove(c.id, c.version)
                .then_some((c.id, None)),
        };
        if let Some(a) = applied {
            self.note_applied(vec![a]);
        }
        let inactive = c
            .row
            .as_ref()
            .is_none_or(|r| r.status() != SubscriptionStatus::Active);
        if inactive {
            self.retry_store.forget_subscription(c.id).await;
        }
        crate::feed::announce_change(self, c.seq).await;
    }

    /// Disables a subscription with a reason (its deliveries are held).
    pub async fn disable(self: &Arc<Self>, id: Uuid, reason: &str) {
        match lifecycle::set_status(&self.db, id, SubscriptionStatus::Disabled, Some(reason)).await
        {
            Ok(c) => {
                self.committed(&c).await;
                if let Some(row) = &c.row {
                    let reason = reason.to_owned();
                    self.emit(ops::About::of(row), OpsEvent::Disabled { reason });
                }
            }
            Err(LifecycleError::NotFound) => {}
            Err(e) => tracing::error!(error = ?e, %id, "cannot disable subscription"),
        }
    }

    /// Stores and dispatches an ingest: committed by the persistence actor, then its due
    /// deliveries handed to the actors (or to the node holding their shard).
    pub async fn ingest(&self, item: IngestItem) -> Result<IngestResult, IngestError> {
        let message = item.message.clone();
        let result = self
            .persistence
            .send(Ingest(item))
            .await
            .unwrap_or(Err(IngestError::Stopped))?;
        if let IngestResult::Stored(receipt) = &result {
            self.dispatch(&message, receipt);
        }
        Ok(result)
    }

    fn dispatch(&self, message: &crate::db::messages::NewMessage, receipt: &Receipt) {
        let now_ms = Utc::now().timestamp_millis();
        let jobs: Vec<DeliveryJob> = receipt
            .deliveries
            .iter()
            .filter(|d| d.status == DeliveryStatus::Pending)
            .map(|d| DeliveryJob {
                delivery_id: d.id,
                message_id: message.id,
                subscription_id: d.subscription_id,
                event_type: message.event_type.clone(),
                payload: Some(message.payload.clone()),
                attempts_made: 0,
                attempt_base: 0,
                due_ms: now_ms,
                ordering_key: message.ordering_key.clone(),
            })
            .collect();
        if let (false, Some(sup)) = (jobs.is_empty(), self.supervisor.get()) {
            sup.do_send(Dispatch {
                jobs,
                from_peer: false,
            });
        }
    }

    /// Reports an operational event to the `courier-ops` subscriptions that want it (in the
    /// background; an event nobody subscribes to is not stored).
    pub fn emit(self: &Arc<Self>, about: ops::About, event: OpsEvent) {
        let targets = match EventType::parse(event.event_type()) {
            Ok(t) => self.directory.matching(OPS_APP_ID, &t),
            Err(_) => return,
        };
        let Some(item) = ops::message(&about, &event, &targets) else {
            return;
        };
        if item.targets.is_empty() {
            return;
        }
        let deps = self.clone();
        actix::spawn(async move {
            if let Err(e) = deps.ingest(item).await {
                tracing::warn!(error = %e, kind = event.event_type(), "cannot store an operational event");
            }
        });
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
    /// Claims the node id, loads the directory, starts the actors on their own threads.
    pub async fn start(
        config: EngineConfig,
        db: PgPool,
        redis: RedisPool,
        keyring: Arc<KeyRing>,
    ) -> Result<Self, EngineError> {
        let identity = Identity::claim(&config.database_url, &config.node_id).await?;
        let directory = Directory::default();
        directory.reload(&db).await?;
        let retry_store = RetryStore::new(redis.clone(), &config.redis_prefix, &config.node_id);
        let cache = SubscriptionCache::new(redis, config.redis_prefix.clone(), config.cache_ttl);
        let persistence = {
            let (db, store, node, ttl) = (
                db.clone(),
                retry_store.clone(),
                config.node_id.clone(),
                config.retention.idempotency_ttl,
            );
            PersistenceActor::start_in_arbiter(&Arbiter::new().handle(), move |_| {
                PersistenceActor::new(db, node, store, ttl)
            })
        };
        let (events, _) = broadcast::channel(4096);
        let (changes, changes_rx) = mpsc::unbounded_channel();
        let core_config = Arc::new(CoreConfig {
            retry_schedule: config.retry_schedule.clone(),
            retry_after_cap: config.retry_after_cap,
            disable_after: config.disable_after,
            delivery_timeout: config.delivery_timeout,
        });
        let retention_policy = config.retention.clone();
        let capacity = Capacity::new(config.max_attempts_in_flight);
        let lease_db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy_with((*db.connect_options()).clone());
        let credential_headers = Arc::new(config.credential_headers.clone());
        let deps = Arc::new(EngineDeps {
            db: db.clone(),
            lease_db,
            config,
            core_config,
            persistence,
            directory,
            cache,
            retry_store,
            leases: Leases::default(),
            identity,
            keyring,
            credential_headers,
            events,
            capacity,
            health_reads: HealthReads::start(db.clone()),
            read_slots: Arc::new(tokio::sync::Semaphore::new(
                (db.options().get_max_connections() as usize / 2).max(1),
            )),
            changes,
            supervisor: std::sync::OnceLock::new(),
        });
        let supervisor = Supervisor::new(deps.clone()).start();
        let _ = deps.supervisor.set(supervisor.clone());
        let _ = supervisor.send(crate::supervisor::TickNow).await;
        forward_changes(changes_rx, supervisor.clone());
        crate::feed::start(deps.clone(), supervisor.clone());
        let retention = RetentionActor::new(db, retention_policy).start();
        actix::spawn(reseal_all(deps.clone()));
        actix::spawn(keep_ops_webhook(deps.clone()));
        Ok(Self {
            deps,
            supervisor,
            retention,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.deps.config
    }

    pub fn directory(&self) -> &Directory {
        &self.deps.directory
    }

    pub fn cache(&self) -> &SubscriptionCache {
        &self.deps.cache
    }

    pub fn leases(&self) -> &Leases {
        &self.deps.leases
    }

    /// A live subscription: from the directory, else from Postgres (a subscription created
    /// on another node a moment ago), which the directory then keeps.
    pub async fn subscription(
        &self,
        id: Uuid,
    ) -> Result<Option<Arc<SubscriptionRow>>, sqlx::Error> {
        if let Some(row) = self.deps.directory.get(id) {
            return Ok(Some(row));
        }
        let Some(row) = subscriptions::get(&self.deps.db, id).await? else {
            return Ok(None);
        };
        self.deps.directory.apply(row.clone());
        Ok(Some(
            self.deps.directory.get(id).unwrap_or_else(|| Arc::new(row)),
        ))
    }

    pub fn keyring(&self) -> &KeyRing {
        &self.deps.keyring
    }

    pub async fn create_subscription(
        &self,
        application_id: Uuid,
        spec: &SubscriptionSpec,
        secret: &SigningSecret,
        requires_signature: bool,
    ) -> Result<SubscriptionRow, LifecycleError> {
        let d = &self.deps;
        let c = lifecycle::create(
            &d.db,
            &d.keyring,
            application_id,
            spec,
            secret,
            requires_signature,
        )
        .await?;
        self.deps.committed(&c).await;
        let row = c.row.ok_or(LifecycleError::NotFound)?;
        self.deps.emit(ops::About::of(&row), OpsEvent::Created);
        Ok(row)
    }

    pub async fn update_subscription(
        &self,
        id: Uuid,
        change: impl FnOnce(SubscriptionSpec) -> Result<SubscriptionSpec, Invalid>,
    ) -> Result<SubscriptionRow, LifecycleError> {
        let c = lifecycle::update(&self.deps.db, &self.deps.keyring, id, change).await?;
        self.deps.committed(&c).await;
        let row = c.row.ok_or(LifecycleError::NotFound)?;
        self.deps.emit(ops::About::of(&row), OpsEvent::Updated);
        Ok(row)
    }

    pub async fn set_status(
        &self,
        id: Uuid,
        status: SubscriptionStatus,
    ) -> Result<SubscriptionRow, LifecycleError> {
        let c = lifecycle::set_status(&self.deps.db, id, status, None).await?;
        self.deps.committed(&c).await;
        c.row.ok_or(LifecycleError::NotFound)
    }

    pub async fn rotate_secret(
        &self,
        id: Uuid,
        secret: &SigningSecret,
        overlap_until: DateTime<Utc>,
    ) -> Result<SubscriptionRow, LifecycleError> {
        let c =
            lifecycle::rotate_secret(&self.deps.db, &self.deps.keyring, id, secret, overlap_until)
                .await?;
        self.deps.committed(&c).await;
        c.row.ok_or(LifecycleError::NotFound)
    }

    pub async fn delete_subscription(&self, id: Uuid) -> Result<(), LifecycleError> {
        let before = self.deps.directory.get(id);
        let c = lifecycle::delete(&self.deps.db, id).await?;
        self.deps.committed(&c).await;
        if let Some(row) = before {
            self.deps.emit(ops::About::of(&row), OpsEvent::Deleted);
        }
        Ok(())
    }

    /// Stores an ingest (group-committed with others) and, once committed, hands its due
    /// deliveries to the actors: the caller answers after this returns.
    pub async fn ingest(&self, item: IngestItem) -> Result<IngestResult, IngestError> {
        self.deps.ingest(item).await
    }

    /// Operator retry: due now with a fresh budget (held while the subscription is not
    /// active). Returns the ids that were requeued or held, with their status.
    pub async fn retry(
        &self,
        ids: &[Uuid],
        only: Option<&[DeliveryStatus]>,
    ) -> Result<Vec<(Uuid, Uuid, String)>, sqlx::Error> {
        let rows = deliveries::requeue(&self.deps.db, ids, only).await?;
        let now = Utc::now().timestamp_millis();
        let mut by_sub: std::collections::HashMap<Uuid, Vec<(Uuid, i64)>> = Default::default();
        for (id, sub, status) in &rows {
            if status == DeliveryStatus::Pending.as_str() {
                by_sub.entry(*sub).or_default().push((*id, now));
            }
        }
        for (subscription_id, deliveries) in by_sub {
            self.supervisor.do_send(Enqueue {
                subscription_id,
                deliveries,
                force: true,
                from_peer: false,
            });
        }
        Ok(rows)
    }

    /// Ends an unfinished delivery ("skipped by operator"), releasing its ordering key at
    /// once. Returns whether it was unfinished.
    pub async fn skip(&self, id: Uuid) -> Result<bool, sqlx::Error> {
        let Some(subscription_id) = deliveries::skip(&self.deps.db, id).await? else {
            return Ok(false);
        };
        self.supervisor.do_send(Enqueue {
            subscription_id,
            deliveries: vec![(id, Utc::now().timestamp_millis())],
            force: true,
            from_peer: false,
        });
        Ok(true)
    }

    /// Re-queues every failed delivery of a subscription created since `since`.
    pub async fn recover(
        &self,
        subscription_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<usize, sqlx::Error> {
        let ids = deliveries::failed_since(&self.deps.db, subscription_id, since).await?;
        let mut n = 0;
        for chunk in ids.chunks(5_000) {
            n += self
                .retry(chunk, Some(&[DeliveryStatus::Failed]))
                .await?
                .len();
        }
        Ok(n)
    }

    /// Waits until every outcome reported so far is written.
    pub async fn flush(&self) {
        let _ = self.deps.persistence.send(Flush).await;
    }

    /// Runs the sweeper now; returns how many subscriptions it woke.
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

    /// How the node's attempt permits are used.
    pub fn capacity(&self) -> crate::capacity::CapacityFigures {
        self.deps.capacity.figures()
    }

    /// The live stream of finished attempts.
    pub fn subscribe(&self) -> broadcast::Receiver<AttemptEvent> {
        self.deps.events.subscribe()
    }

    /// Stops the actors, writes what the persistence actor holds, hands the leases back.
    pub async fn shutdown(&self) {
        let _ = self.supervisor.send(Shutdown).await;
        self.retention.do_send(Shutdown);
        self.flush().await;
        self.deps.identity.release().await;
    }
}

/// The description of the `courier-ops` subscription Courier keeps for
/// `COURIER_OPS_WEBHOOK_URL`.
pub const OPS_WEBHOOK_MARKER: &str = "COURIER_OPS_WEBHOOK_URL";

/// Keeps `COURIER_OPS_WEBHOOK_URL` as a `courier-ops` subscription taking every event. (Its
/// secret is generated; `rotate-secret` on it shows one to configure the receiver with.)
async fn keep_ops_webhook(deps: Arc<EngineDeps>) {
    let Some(url) = deps.config.ops_webhook_url.clone() else {
        return;
    };
    let spec = SubscriptionSpec {
        target_url: url,
        event_types: crate::domain::EventFilter::default(),
        description: Some(OPS_WEBHOOK_MARKER.to_owned()),
        headers: crate::headers::ExtraHeaders::default(),
        rate_limit_per_second: None,
        max_in_flight: 4,
        timeout_ms: None,
        filter: None,
        retry_schedule: None,
    };
    match lifecycle::ensure_managed(&deps.db, &deps.keyring, OPS_APP_ID, &spec).await {
        Ok(Some(c)) => {
            tracing::info!(id = %c.id, "operational events go to COURIER_OPS_WEBHOOK_URL");
            deps.committed(&c).await;
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = ?e, "cannot set up COURIER_OPS_WEBHOOK_URL"),
    }
}

/// Reseals, in the background, every subscription whose secrets or headers are in clear
/// (written before the key ring) or sealed with a key that is no longer the first. Nodes
/// racing on it are harmless: each reseal re-checks under the row lock.
async fn reseal_all(deps: Arc<EngineDeps>) {
    let ids: Vec<Uuid> = match subscriptions::list_all_live(&deps.db).await {
        Ok(rows) => rows
            .iter()
            .filter(|r| needs_reseal(&deps.keyring, r))
            .map(|r| r.id)
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for secrets to reseal; the next start retries");
            return;
        }
    };
    if ids.is_empty() {
        return;
    }
    tracing::info!(
        count = ids.len(),
        "resealing subscription secrets with the current key"
    );
    for id in ids {
        match lifecycle::reseal(&deps.db, &deps.keyring, id).await {
            Ok(Some(c)) => deps.committed(&c).await,
            Ok(None) => {}
            Err(e) => tracing::error!(error = ?e, %id, "cannot reseal a subscription's secrets"),
        }
    }
}

fn needs_reseal(ring: &KeyRing, r: &SubscriptionRow) -> bool {
    let stale = |v: &str| !v.is_empty() && ring.needs_reseal(v);
    stale(&r.secret)
        || r.previous_secret.as_deref().is_some_and(stale)
        || r.headers_sealed.as_deref().is_none_or(stale)
}

/// Passes the directory's applied changes to the supervisor, in order.
fn forward_changes(mut rx: mpsc::UnboundedReceiver<Applied>, supervisor: Addr<Supervisor>) {
    actix::spawn(async move {
        while let Some(applied) = rx.recv().await {
            supervisor.do_send(SubscriptionsChanged { applied });
        }
    });
}
