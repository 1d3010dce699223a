//! What a subscription's core gives back: everything it holds when it stops or is paused
//! (Postgres has it), and its tables' spare capacity when it goes idle. Part of
//! [`super::Core`].
//!
//! Must never: drop an id that is in flight or unwritten while the core is active (only
//! capacity goes; [`Core::compact`] changes no decision).

use super::super::tables::Shrink;
use super::Core;
use crate::clock::Clock;

impl<C: Clock> Core<C> {
    /// Drops everything memory holds: Postgres has it (due or held).
    pub(super) fn release_memory(&mut self) {
        self.ready.clear();
        self.to_load.clear();
        self.scheduled.clear();
        self.attempts_made.clear();
        self.known.clear();
        self.backlog = None;
        self.keys.clear();
        self.compact();
    }

    /// Gives back the memory its tables no longer need (the shell calls it when the core
    /// goes idle, and again once the just-written ids are forgotten). Changes no decision.
    pub fn compact(&mut self) {
        self.forget_old();
        self.ready.shrink();
        self.to_load.shrink();
        self.known.shrink();
        self.unwritten.shrink();
        self.recent.shrink();
        self.recent_ids.shrink();
        self.attempts_made.shrink();
        self.adaptive.shrink();
        self.keys.shrink();
    }

    /// Table slots allocated (for tests of [`Core::compact`]).
    #[cfg(test)]
    pub fn allocated(&self) -> usize {
        self.ready.capacity()
            + self.to_load.capacity()
            + self.known.capacity()
            + self.unwritten.capacity()
            + self.recent.capacity()
            + self.recent_ids.capacity()
            + self.attempts_made.capacity()
            + self.adaptive.allocated()
            + self.keys.allocated()
    }
}
