//! The shell's reads from Postgres: its health at start (batched across actors, see
//! [`crate::health_reads`]), payloads of ids it holds, pages of its backlog, and the heads of
//! ordering keys. Page, load and head reads take one of the node's read slots
//! ([`crate::engine::EngineDeps::read_slots`]) first, and only then build the query: when the
//! sweeper names 10,000 busy subscriptions at once, 10,000 actors then wait holding a few
//! hundred bytes each instead of a started query (~6 KiB) each, and Postgres sees at most as
//! many of these reads as there are slots. Part of [`super::SubscriptionActor`].
//!
//! Must never: lose what a failed read was for (the core puts it back and the actor wakes in
//! 1 s to try again).

use std::future::Future;
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::Utc;
use uuid::Uuid;

use super::SubscriptionActor;
use super::core::LOAD_BATCH;
use crate::db::deliveries;

impl SubscriptionActor {
    /// Runs `read` once a read slot is free (the query is built only then).
    fn with_slot<F: Future, R: FnOnce() -> F>(
        &self,
        read: R,
    ) -> impl Future<Output = F::Output> + use<F, R> {
        let slots = self.deps.read_slots.clone();
        async move {
            // The semaphore is never closed, so this always waits for a slot.
            let _slot = slots.acquire().await.ok();
            Box::pin(read()).await
        }
    }

    pub(super) fn load(&mut self, ids: Vec<Uuid>, ctx: &mut Context<Self>) {
        let db = self.deps.db.clone();
        let fut =
            self.with_slot(move || async move { (deliveries::load_jobs(&db, &ids).await, ids) });
        ctx.spawn(fut.into_actor(self).map(|(result, ids), act, ctx| {
            match result {
                Ok(jobs) => act.core.loaded(ids, jobs),
                Err(e) => {
                    tracing::warn!(error = %e, sub = %act.sub.id, "cannot load deliveries; retrying in 1s");
                    act.core.load_failed(ids);
                    act.arm(ctx, Instant::now() + Duration::from_secs(1));
                    return;
                }
            }
            act.pump(ctx);
        }));
    }

    pub(super) fn page(&mut self, cursor: Option<deliveries::PageCursor>, ctx: &mut Context<Self>) {
        let (db, id) = (self.deps.db.clone(), self.sub.id);
        let limit = LOAD_BATCH;
        let fut = self.with_slot(move || async move {
            let horizon = Utc::now();
            deliveries::page_due(&db, id, horizon, cursor, limit as i64).await
        });
        ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok((jobs, next)) => act.core.paged(jobs, next, limit),
                Err(e) => {
                    tracing::warn!(error = %e, sub = %act.sub.id, "cannot page the backlog; retrying in 1s");
                    act.core.page_failed();
                    act.arm(ctx, Instant::now() + Duration::from_secs(1));
                    return;
                }
            }
            act.pump(ctx);
        }));
    }

    pub(super) fn read_heads(&mut self, keys: Vec<String>, ctx: &mut Context<Self>) {
        let (db, id) = (self.deps.db.clone(), self.sub.id);
        let fut = self.with_slot(move || async move {
            let found = deliveries::ordering_heads(&db, id, &keys).await;
            (found, keys)
        });
        ctx.spawn(fut.into_actor(self).map(|(result, keys), act, ctx| {
            match result {
                Ok(found) => act.core.heads(keys, found),
                Err(e) => {
                    tracing::warn!(error = %e, sub = %act.sub.id, "cannot read ordering heads; retrying in 1s");
                    act.core.heads_failed(keys);
                    act.arm(ctx, Instant::now() + Duration::from_secs(1));
                    return;
                }
            }
            act.pump(ctx);
        }));
    }

    /// Reads the failing streak, then starts working (retrying while Postgres is away).
    pub(super) fn load_health(&mut self, ctx: &mut Context<Self>) {
        // Batched with the other actors starting now (one query per up to 1,000).
        let fut = self.deps.health_reads.get(self.sub.id);
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| match result {
            Ok(h) => {
                act.core.set_health(h);
                act.health_loaded = true;
                act.pump(ctx);
            }
            Err(e) => {
                tracing::debug!(error = %e, sub = %act.sub.id, "cannot read the subscription's health; retrying in 1s");
                ctx.run_later(Duration::from_secs(1), |act, ctx| act.load_health(ctx));
                // Idle meanwhile, it still stops in time.
                act.note_idle(ctx);
            }
        }));
    }
}
