//! A unit of work: one delivery, as a subscription actor holds it.

use std::sync::Arc;

use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub delivery_id: Uuid,
    pub message_id: Uuid,
    pub subscription_id: Uuid,
    pub event_type: Arc<str>,
    /// The producer's JSON text. `None` when the job was learned by id only (a due retry, a
    /// sweep, a resume): the actor loads it from Postgres before sending.
    pub payload: Option<Arc<str>>,
    /// Attempts made so far.
    pub attempts_made: i32,
    /// Attempts made before the last manual retry or recover (the budget restarts there).
    pub attempt_base: i32,
    /// When it is due, in epoch milliseconds.
    pub due_ms: i64,
    /// Its ordering key: it goes only once every earlier delivery of the key to this
    /// subscription has finished.
    pub ordering_key: Option<Arc<str>>,
}
