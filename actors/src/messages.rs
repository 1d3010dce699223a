//! Every message that crosses between actors, one documented struct each.

use actix::prelude::*;
use uuid::Uuid;

use crate::db::deliveries::{AttemptRecord, StatusUpdate};
use crate::db::messages::{IngestItem, IngestResult};
use crate::db::subscriptions::SubscriptionRow;
use crate::delivery::AttemptOutcome;
use crate::job::DeliveryJob;
use crate::retry_store::ScheduledRetry;

/// A subscription was created, changed, paused, resumed or deleted (the directory already
/// holds its new state): its actor re-reads it, or stops when it is gone.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct SubscriptionChanged {
    pub id: Uuid,
}

/// New deliveries, just committed, with their payloads: supervisor → subscription actors.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Dispatch {
    pub jobs: Vec<DeliveryJob>,
}

/// Deliveries known by id only (due retries from Redis, sweeps, manual retries, resumes):
/// the actor loads them from Postgres when they are due.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Enqueue {
    pub subscription_id: Uuid,
    /// `(delivery id, due time in epoch ms)`.
    pub deliveries: Vec<(Uuid, i64)>,
    /// An operator asked (manual retry, recover, resume): take the ids even if they just
    /// finished here.
    pub force: bool,
}

/// The subscription's new state: supervisor → its actor.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Refresh {
    pub row: std::sync::Arc<SubscriptionRow>,
}

/// A subscription actor went idle and stopped: subscription actor → supervisor.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ActorStopped {
    pub id: Uuid,
    pub addr: Addr<crate::subscription::SubscriptionActor>,
}

/// An attempt finished: delivery actor → subscription actor.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct AttemptDone {
    pub job: DeliveryJob,
    pub attempt: AttemptRecord,
    pub outcome: AttemptOutcome,
}

/// Store an ingest (group-committed with others): routes → persistence actor.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<IngestResult, crate::persistence::PersistError>")]
pub struct Ingest(pub IngestItem);

/// Log an attempt and update its delivery (batched): subscription actor → persistence actor.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct RecordOutcome {
    pub subscription_id: Uuid,
    pub attempt: AttemptRecord,
    pub update: StatusUpdate,
    /// A retry to add to the Redis schedule, when one was scheduled.
    pub schedule: Option<ScheduledRetry>,
}

/// An attempt is about to be sent: subscription actor → persistence actor (marks it in
/// flight in Redis, so a crash before its outcome is written is counted as a possible
/// duplicate at the next start).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct AttemptStarted {
    pub subscription_id: Uuid,
    pub delivery_id: Uuid,
}

/// Resolves once every outcome received so far is written (Postgres and the Redis
/// schedule): tests and shutdown.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Flush;

/// Run the sweeper now (also runs on its interval): find due deliveries Postgres holds for
/// this node's subscriptions and hand them to their actors.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "usize")]
pub struct SweepNow;

/// How many deliveries this node's actors hold in memory and in flight.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "EngineLoad")]
pub struct GetLoad;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineLoad {
    pub actors: usize,
    pub queued: usize,
    pub scheduled: usize,
    pub in_flight: usize,
}

/// Stop gracefully.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Shutdown;
