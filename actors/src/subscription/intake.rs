//! How work reaches a subscription's core: fresh jobs with payloads, ids with due times,
//! the backlog note and its pages, loaded payloads and ordering-key heads. Part of
//! [`super::Core`].
//!
//! Must never: hold an id twice, take an unwritten or just-written id again, let a keyed
//! delivery in that is not its key's head, or hold more than [`READY_MAX`] payloads.

use std::collections::HashMap;

use uuid::Uuid;

use super::{Core, READY_MAX};
use crate::clock::Clock;
use crate::db::deliveries::PageCursor;
use crate::job::DeliveryJob;

impl<C: Clock> Core<C> {
    /// Fresh jobs with payloads (just committed). Past `READY_MAX` they stay in Postgres and
    /// the backlog pager finds them.
    pub fn add_jobs(&mut self, jobs: Vec<DeliveryJob>) {
        if !self.active {
            return;
        }
        if self.ready.is_empty() {
            // Exactly what arrived (most fan-outs bring one job): growth doubles from there.
            self.ready.reserve_exact(jobs.len().min(READY_MAX));
        }
        for job in jobs {
            if self.ready.len() >= READY_MAX {
                self.note_backlog();
                continue;
            }
            if self.admit_job(&job) {
                self.ready.push_back(job);
            }
        }
    }

    /// Deliveries known by id, due at these times (epoch ms). `force` (an operator asked):
    /// a retry waiting for its time is brought forward.
    pub fn add_ids(&mut self, entries: Vec<(Uuid, i64)>, force: bool) {
        if !self.active {
            return;
        }
        let now_ms = self.clock.wall().timestamp_millis();
        for (id, due) in entries {
            if force && let Some(e) = self.scheduled.iter().find(|(_, d)| *d == id).copied() {
                self.scheduled.remove(&e);
                self.known.remove(&id);
            }
            if force {
                // An operator asked again: Postgres has it due whatever was sent lately.
                self.recent_ids.remove(&id);
            }
            if !self.admit(id) {
                continue;
            }
            if due <= now_ms {
                self.to_load.push_back(id);
            } else {
                self.scheduled.insert((due, id));
            }
        }
    }

    /// Postgres may hold due deliveries that memory does not: page through them.
    pub fn note_backlog(&mut self) {
        if self.active && self.backlog.is_none() {
            self.backlog = Some(None);
        }
    }

    /// Payloads loaded for `ids`; an id that came back empty finished elsewhere.
    pub fn loaded(&mut self, ids: Vec<Uuid>, jobs: Vec<DeliveryJob>) {
        self.loading = false;
        let mut by_id: HashMap<Uuid, DeliveryJob> =
            jobs.into_iter().map(|j| (j.delivery_id, j)).collect();
        for id in ids {
            let remembered = self.attempts_made.remove(&id);
            let job = by_id.remove(&id);
            // Known already (queued by id); a keyed one goes only as its key's head.
            let allowed = job.as_ref().is_some_and(|j| {
                self.active
                    && j.ordering_key
                        .as_ref()
                        .is_none_or(|k| self.keys.admit(k, id))
            });
            match job {
                Some(mut job) if allowed => {
                    if let Some((made, base)) = remembered.filter(|(m, _)| *m > job.attempts_made) {
                        job.attempts_made = made;
                        job.attempt_base = base;
                    }
                    self.ready.push_back(job);
                }
                Some(_) => {
                    self.known.remove(&id);
                }
                None => {
                    self.known.remove(&id);
                    self.keys.vanished(id);
                }
            }
        }
    }

    /// A load failed: the ids wait for the next try.
    pub fn load_failed(&mut self, ids: Vec<Uuid>) {
        self.loading = false;
        self.to_load.extend(ids);
    }

    /// A backlog page arrived, with the cursor after it; a short page means the backlog is
    /// read to the end.
    pub fn paged(&mut self, jobs: Vec<DeliveryJob>, next: Option<PageCursor>, limit: usize) {
        let full = jobs.len() >= limit;
        // Admitted while `paging` still says when this page was asked for, so an id written
        // after that is not taken from it.
        for job in jobs {
            if self.active && self.admit_job(&job) {
                self.ready.push_back(job);
            }
        }
        self.paging = None;
        self.backlog = match (self.active, full) {
            (true, true) => Some(next),
            _ => None,
        };
    }

    /// A page failed: the backlog stays where it was.
    pub fn page_failed(&mut self) {
        self.paging = None;
    }

    /// The heads of `asked` were read: those that may go are queued (or wait for their
    /// retry time).
    pub fn heads(&mut self, asked: Vec<String>, found: Vec<crate::db::deliveries::Head>) {
        let now_ms = self.clock.wall().timestamp_millis();
        for job in self.keys.heads(asked, found) {
            if !self.active || !self.admit(job.delivery_id) {
                tracing::trace!(id = %job.delivery_id, active = self.active, "ordering head not taken (held already)");
                continue;
            }
            if job.due_ms > now_ms {
                self.scheduled.insert((job.due_ms, job.delivery_id));
            } else {
                self.ready.push_back(job);
            }
        }
    }

    /// Reading heads failed: they are read again.
    pub fn heads_failed(&mut self, asked: Vec<String>) {
        self.keys.lookup_failed(asked);
    }
}
