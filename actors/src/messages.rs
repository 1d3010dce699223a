//! Every message that crosses between actors, one documented struct each.

use actix::Message;
use uuid::Uuid;

/// A subscription was created, changed, paused, resumed or deleted: drop what is cached and
/// re-read it.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct SubscriptionChanged {
    pub id: Uuid,
}

/// Stop gracefully.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Shutdown;
