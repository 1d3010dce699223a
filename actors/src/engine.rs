//! The engine handle: what the HTTP server holds. It starts the actor tree, forwards what
//! the routes learn (a subscription changed) and stops everything on shutdown.

use actix::prelude::*;
use uuid::Uuid;

use crate::messages::{Shutdown, SubscriptionChanged};
use crate::supervisor::Supervisor;

/// `Clone + Send`: every HTTP worker gets a copy.
#[derive(Clone)]
pub struct Engine {
    supervisor: Addr<Supervisor>,
}

impl Engine {
    /// Starts the actor tree on the current actix system.
    pub fn start() -> Self {
        Self {
            supervisor: Supervisor::default().start(),
        }
    }

    pub fn subscription_changed(&self, id: Uuid) {
        self.supervisor.do_send(SubscriptionChanged { id });
    }

    /// Asks every actor to stop and waits until the supervisor has.
    pub async fn shutdown(&self) {
        let _ = self.supervisor.send(Shutdown).await;
    }
}
