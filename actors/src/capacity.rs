//! Node-wide attempt capacity (`COURIER_MAX_ATTEMPTS_IN_FLIGHT` permits), shared fairly among
//! the subscriptions that want it. A permit is held from just before an attempt starts until
//! its outcome is written, so a stalled receiver holds its permits for its whole timeout.
//!
//! Fairness: with `d` subscriptions holding or waiting, none may hold more than
//! `max(1, total / (d + 1))` — one share is always left for a subscription that is not yet
//! asking, so a healthy subscription that arrives finds a free permit at once however many
//! stalled ones hold theirs (while `d` stays below `total`). Waiters are served in turn,
//! skipping any at its share; a released permit or a subscription leaving serves them again.
//!
//! Must never: grant more than `total` permits, grant a subscription past its share while
//! another waits, lose a permit (every [`Permit`] gives itself back when dropped), or keep a
//! waiter whose actor has gone.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use uuid::Uuid;

/// The node's shared attempt capacity. Cheap to clone.
#[derive(Clone)]
pub struct Capacity {
    inner: Arc<Mutex<Inner>>,
}

/// How the capacity is used right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapacityFigures {
    pub total: usize,
    pub in_use: usize,
    pub waiting: usize,
    /// Subscriptions holding or waiting for a permit.
    pub demanders: usize,
}

struct Inner {
    total: usize,
    free: usize,
    subs: HashMap<Uuid, Entry>,
    /// Subscriptions waiting, in turn (an id whose entry no longer waits is skipped).
    queue: VecDeque<Uuid>,
}

#[derive(Default)]
struct Entry {
    held: usize,
    waiter: Option<oneshot::Sender<Permit>>,
}

/// One attempt's share of the node's capacity; given back when dropped.
pub struct Permit {
    inner: Arc<Mutex<Inner>>,
    sub: Uuid,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("sub", &self.sub).finish()
    }
}

impl Capacity {
    pub fn new(total: usize) -> Self {
        let total = total.max(1);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                total,
                free: total,
                subs: HashMap::new(),
                queue: VecDeque::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// A permit for `sub` now, if one is free and `sub` is below its share.
    pub fn try_acquire(&self, sub: Uuid) -> Option<Permit> {
        let mut inner = self.lock();
        let share = inner.share_with(sub);
        let held = inner.subs.get(&sub).map_or(0, |e| e.held);
        if inner.free == 0 || held >= share {
            return None;
        }
        inner.take(sub);
        Some(Permit {
            inner: self.inner.clone(),
            sub,
        })
    }

    /// Waits for a permit for `sub`, in turn with the other waiters. Dropping the future
    /// gives up the place (and any permit granted meanwhile).
    pub fn acquire(&self, sub: Uuid) -> Wait {
        let (tx, rx) = oneshot::channel();
        let granted = {
            let mut inner = self.lock();
            let entry = inner.subs.entry(sub).or_default();
            entry.waiter = Some(tx);
            inner.queue.push_back(sub);
            inner.serve(&self.inner)
        };
        deliver(granted);
        Wait {
            rx,
            cancel: Some((self.inner.clone(), sub)),
        }
    }

    pub fn figures(&self) -> CapacityFigures {
        let inner = self.lock();
        CapacityFigures {
            total: inner.total,
            in_use: inner.total - inner.free,
            waiting: inner.subs.values().filter(|e| e.waiter.is_some()).count(),
            demanders: inner.subs.len(),
        }
    }
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock cannot leave the counts half-updated (each change
    // is a few integer writes), so a poisoned lock is still consistent.
    inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Hands granted permits to their waiters, outside the lock (a waiter that has gone
/// drops its permit, which gives it back).
fn deliver(granted: Vec<(oneshot::Sender<Permit>, Permit)>) {
    for (tx, permit) in granted {
        let _ = tx.send(permit);
    }
}

impl Inner {
    /// The share a subscription may hold, counting `sub` among the demanders.
    fn share_with(&self, sub: Uuid) -> usize {
        let d = self.subs.len() + usize::from(!self.subs.contains_key(&sub));
        (self.total / (d + 1)).max(1)
    }

    fn take(&mut self, sub: Uuid) {
        self.free -= 1;
        self.subs.entry(sub).or_default().held += 1;
    }

    fn give_back(&mut self, sub: Uuid) {
        self.free = (self.free + 1).min(self.total);
        if let Some(e) = self.subs.get_mut(&sub) {
            e.held = e.held.saturating_sub(1);
            if e.held == 0 && e.waiter.is_none() {
                self.subs.remove(&sub);
            }
        }
    }

    /// One pass over the waiters in turn, granting to each below its share while permits
    /// are free. Those at their share keep their place for the next pass.
    fn serve(&mut self, arc: &Arc<Mutex<Inner>>) -> Vec<(oneshot::Sender<Permit>, Permit)> {
        let mut granted = Vec::new();
        let mut left = self.queue.len();
        while self.free > 0 && left > 0 {
            left -= 1;
            let Some(sub) = self.queue.pop_front() else {
                break;
            };
            let share = self.share_with(sub);
            let Some(entry) = self.subs.get_mut(&sub) else {
                continue;
            };
            let Some(tx) = entry.waiter.take_if(|tx| !tx.is_closed()) else {
                entry.waiter = None;
                self.forget_if_unused(sub);
                continue;
            };
            if entry.held >= share {
                entry.waiter = Some(tx);
                self.queue.push_back(sub);
                continue;
            }
            self.take(sub);
            granted.push((
                tx,
                Permit {
                    inner: arc.clone(),
                    sub,
                },
            ));
        }
        granted
    }

    fn forget_if_unused(&mut self, sub: Uuid) {
        if self
            .subs
            .get(&sub)
            .is_some_and(|e| e.held == 0 && e.waiter.is_none())
        {
            self.subs.remove(&sub);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let granted = {
            let mut inner = lock(&self.inner);
            inner.give_back(self.sub);
            inner.serve(&self.inner)
        };
        deliver(granted);
    }
}

/// A place in the queue for a permit.
pub struct Wait {
    rx: oneshot::Receiver<Permit>,
    cancel: Option<(Arc<Mutex<Inner>>, Uuid)>,
}

impl Future for Wait {
    type Output = Option<Permit>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(got) => {
                self.cancel = None;
                Poll::Ready(got.ok())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        let Some((inner, sub)) = self.cancel.take() else {
            return;
        };
        let granted = {
            let mut g = lock(&inner);
            if let Some(e) = g.subs.get_mut(&sub) {
                e.waiter = None;
            }
            g.forget_if_unused(sub);
            if g.queue.len() > 2 * g.subs.len() + 64 {
                let Inner { queue, subs, .. } = &mut *g;
                queue.retain(|s| subs.get(s).is_some_and(|e| e.waiter.is_some()));
            }
            // Leaving may raise everyone's share.
            g.serve(&inner)
        };
        deliver(granted);
    }
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
