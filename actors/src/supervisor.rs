//! The supervisor: the root of the actor tree. It owns the set of SubscriptionActors of the
//! subscriptions this node has claimed and restarts them when they stop.
//!
//! Takes: [`SubscriptionChanged`], [`Shutdown`]. Sends: nothing yet.
//! Must never: run two actors for one subscription on one node.

use actix::prelude::*;

use crate::messages::{Shutdown, SubscriptionChanged};

#[derive(Default)]
pub struct Supervisor {
    changes_seen: u64,
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        tracing::info!("supervisor started");
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        tracing::info!(changes_seen = self.changes_seen, "supervisor stopped");
    }
}

impl Handler<SubscriptionChanged> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: SubscriptionChanged, _ctx: &mut Self::Context) {
        self.changes_seen += 1;
        tracing::debug!(id = %msg.id, "subscription changed");
    }
}

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
