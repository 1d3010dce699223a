//! Ordering keys of one subscription: a delivery with a key may be sent only when it is its
//! key's *head* — the oldest unfinished delivery of that key to this subscription, as
//! Postgres has it — and the next head is read only once the previous one's final outcome is
//! written. So deliveries of a key go strictly one after another in ingest (id) order, across
//! restarts and takeovers, while different keys go in parallel. Pure state; the shell reads
//! the heads ([`crate::db::deliveries::ordering_heads`]).
//!
//! Must never: let a keyed delivery through that is not its key's head, or read a key's next
//! head before its previous head's outcome is in Postgres.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use crate::db::deliveries::Head;
use crate::job::DeliveryJob;

#[derive(Debug, Default)]
struct KeyState {
    /// The delivery this key may send (in flight, queued or waiting for its retry).
    head: Option<Uuid>,
    /// The head must be read from Postgres.
    lookup: bool,
    /// A finished head whose outcome is not written yet (the next is read after it).
    finished: Option<Uuid>,
}

/// The ordering keys of a subscription, their table allocated only once a keyed delivery
/// arrives (most subscriptions never see one, and an idle one gives it back).
#[derive(Debug, Default)]
pub struct Keys(Option<Box<Table>>);

impl Keys {
    pub fn admit(&mut self, key: &Arc<str>, id: Uuid) -> bool {
        self.0.get_or_insert_default().admit(key, id)
    }

    pub fn take_lookups(&mut self, n: usize) -> Option<Vec<String>> {
        self.0.as_mut()?.take_lookups(n)
    }

    pub fn heads(&mut self, asked: Vec<String>, found: Vec<Head>) -> Vec<DeliveryJob> {
        self.0.get_or_insert_default().heads(asked, found)
    }

    pub fn lookup_failed(&mut self, asked: Vec<String>) {
        if let Some(t) = &mut self.0 {
            t.lookup_failed(asked);
        }
    }

    pub fn finished(&mut self, key: &Arc<str>, id: Uuid) {
        if let Some(t) = &mut self.0 {
            t.finished(key, id);
        }
    }

    pub fn written(&mut self, id: Uuid) {
        if let Some(t) = &mut self.0 {
            t.written(id);
        }
    }

    pub fn vanished(&mut self, id: Uuid) {
        if let Some(t) = &mut self.0 {
            t.vanished(id);
        }
    }

    pub fn clear(&mut self) {
        self.0 = None;
    }

    pub fn is_idle(&self) -> bool {
        self.0.as_ref().is_none_or(|t| t.is_idle())
    }

    /// Gives back the table when it holds nothing, else its spare capacity.
    pub fn shrink(&mut self) {
        use super::tables::Shrink;
        let empty = self
            .0
            .as_ref()
            .is_some_and(|t| t.states.is_empty() && !t.looking);
        if empty {
            self.0 = None;
        } else if let Some(t) = &mut self.0 {
            t.states.shrink();
        }
    }

    #[cfg(test)]
    pub fn allocated(&self) -> usize {
        self.0.as_ref().map_or(0, |t| t.states.capacity() + 1)
    }
}

#[derive(Debug, Default)]
struct Table {
    states: HashMap<Arc<str>, KeyState>,
    looking: bool,
}

impl Table {
    /// A keyed delivery arrived (fresh, loaded or paged): may it be queued? Only the head
    /// may; any other waits in Postgres (a key seen for the first time is looked up).
    pub fn admit(&mut self, key: &Arc<str>, id: Uuid) -> bool {
        let state = self.states.entry(key.clone()).or_default();
        if state.head == Some(id) {
            return true;
        }
        if state.head.is_none() && state.finished.is_none() {
            state.lookup = true;
        }
        false
    }

    /// Up to `n` keys whose head must be read, unless a read is under way.
    pub fn take_lookups(&mut self, n: usize) -> Option<Vec<String>> {
        if self.looking {
            return None;
        }
        let keys: Vec<String> = self
            .states
            .iter()
            .filter(|(_, s)| s.lookup)
            .take(n)
            .map(|(k, _)| k.to_string())
            .collect();
        if keys.is_empty() {
            return None;
        }
        for k in &keys {
            if let Some(s) = self.states.get_mut(k.as_str()) {
                s.lookup = false;
            }
        }
        self.looking = true;
        tracing::trace!(?keys, "reading ordering heads");
        Some(keys)
    }

    /// The heads read for `asked`: returns the jobs that may now be queued.
    pub fn heads(&mut self, asked: Vec<String>, found: Vec<Head>) -> Vec<DeliveryJob> {
        self.looking = false;
        let mut by_key: HashMap<String, (Uuid, Option<DeliveryJob>)> = found
            .into_iter()
            .map(|(k, id, job)| (k, (id, job)))
            .collect();
        let mut ready = Vec::new();
        for key in asked {
            match by_key.remove(&key) {
                Some((id, job)) => {
                    tracing::trace!(%key, head = %id, due = job.is_some(), "ordering head read");
                    // A read that raced the head's final outcome still shows it: the write's
                    // confirmation reads the key again.
                    if let Some(s) = self.states.get_mut(key.as_str()) {
                        if s.finished == Some(id) {
                            continue;
                        }
                        s.head = Some(id);
                    }
                    ready.extend(job);
                }
                // Nothing unfinished: the key is idle.
                None => {
                    tracing::trace!(%key, "ordering key idle");
                    self.states.remove(key.as_str());
                }
            }
        }
        ready
    }

    /// A read failed: the keys are read again.
    pub fn lookup_failed(&mut self, asked: Vec<String>) {
        self.looking = false;
        for k in asked {
            if let Some(s) = self.states.get_mut(k.as_str()) {
                s.lookup = true;
            }
        }
    }

    /// A head reached a final outcome: its key's next head is read once it is written.
    pub fn finished(&mut self, key: &Arc<str>, id: Uuid) {
        tracing::trace!(%key, %id, head = ?self.states.get(key).and_then(|s| s.head), "ordering head finished");
        if let Some(s) = self.states.get_mut(key)
            && s.head == Some(id)
        {
            s.head = None;
            s.finished = Some(id);
        }
    }

    /// An outcome was written: a key waiting for it reads its next head.
    pub fn written(&mut self, id: Uuid) {
        for s in self.states.values_mut() {
            if s.finished == Some(id) {
                tracing::trace!(%id, "ordering head written");
                s.finished = None;
                s.lookup = true;
            }
        }
    }

    /// A delivery turned out finished elsewhere (skipped, cancelled): if it was a head, its
    /// key reads the next one.
    pub fn vanished(&mut self, id: Uuid) {
        for s in self.states.values_mut() {
            if s.head == Some(id) {
                tracing::trace!(%id, "ordering head vanished");
                s.head = None;
                s.lookup = true;
            }
        }
    }

    /// Nothing to read and nothing waiting.
    pub fn is_idle(&self) -> bool {
        !self.looking
            && self
                .states
                .values()
                .all(|s| s.head.is_none() && !s.lookup && s.finished.is_none())
    }
}
