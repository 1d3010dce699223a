//! Every message that crosses between actors, one documented struct each.

use std::sync::Arc;

use crate::capacity::Permit;
use actix::prelude::*;
use uuid::Uuid;

use crate::db::messages::{IngestItem, IngestResult};
use crate::db::outcomes::{AttemptRecord, OutcomeRow};
use crate::db::subscriptions::SubscriptionRow;
use crate::delivery::AttemptOutcome;
use crate::job::DeliveryJob;
use crate::persistence::IngestError;
use crate::retry_store::{Mark, ScheduledRetry};

/// New deliveries, just committed, with their payloads: engine → supervisor → actors. The
/// supervisor hands work for shards another node holds to that node, unless the work came
/// from a peer already (`from_peer`: it is never passed on twice).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Dispatch {
    pub jobs: Vec<DeliveryJob>,
    pub from_peer: bool,
}

/// Deliveries known by id only (retries Redis remembered, operator requeues): the actor
/// loads them from Postgres when they are due.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Enqueue {
    pub subscription_id: Uuid,
    /// `(delivery id, due time in epoch ms)`.
    pub deliveries: Vec<(Uuid, i64)>,
    /// An operator asked (manual retry, recover, skip): a waiting retry is brought forward,
    /// and a node that does not hold the shard hands it to the one that does.
    pub force: bool,
    /// Handed over by another node already (never passed on again).
    pub from_peer: bool,
}

/// Postgres holds due deliveries of these subscriptions that may not be in memory (the
/// sweeper found them, a resume released them, another node asked): their actors page
/// through them.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Backfill {
    pub subscriptions: Vec<Uuid>,
    pub from_peer: bool,
}

/// The directory applied these changes (row now, or `None` when deleted): supervisor.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct SubscriptionsChanged {
    pub applied: Vec<(Uuid, Option<Arc<SubscriptionRow>>)>,
}

/// The subscription's new state: supervisor → its actor.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Refresh {
    pub row: Arc<SubscriptionRow>,
}

/// This node no longer holds the actor's lease: stop sending now, drop everything.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct LeaseLost;

/// A subscription actor stopped: subscription actor → supervisor.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ActorStopped {
    pub id: Uuid,
    pub addr: Addr<crate::subscription::SubscriptionActor>,
}

/// An attempt finished (`result`), or was not made because the lease was gone (`None`):
/// delivery actor → subscription actor, with the node-wide permit it held.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct AttemptDone {
    pub job: DeliveryJob,
    pub result: Option<(AttemptRecord, AttemptOutcome)>,
    pub permit: Option<Permit>,
}

/// Store an ingest (group-committed with others): engine → persistence actor.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<IngestResult, IngestError>")]
pub struct Ingest(pub IngestItem);

/// Log an attempt and update its delivery (batched, fenced): subscription actor →
/// persistence actor. Resolves once it is written (or refused because the lease was lost).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RecordOutcome {
    pub subscription_id: Uuid,
    pub row: OutcomeRow,
    /// A retry to add to the Redis schedule, when one was scheduled.
    pub schedule: Option<ScheduledRetry>,
    /// The in-flight mark to clear once written.
    pub mark: Mark,
    /// Held until the outcome is written.
    pub permit: Option<Permit>,
}

/// An attempt is about to be sent: mark it in flight in Redis first, so that a crash before
/// its outcome is written is counted as a possible duplicate. Resolves when marked (or when
/// Redis could not be reached in time).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct MarkInFlight(pub Mark);

/// Resolves once every outcome received so far is written (Postgres and the Redis
/// schedule): tests and shutdown.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Flush;

/// Run the sweeper now (it also runs on its interval).
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
    /// Subscriptions whose adaptive concurrency is below their `max_in_flight`.
    pub concurrency_reduced: usize,
}

/// Stop gracefully.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Shutdown;
