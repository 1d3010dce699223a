//! When a subscription actor has nothing to do: its core gives back its tables' spare memory,
//! and after [`IDLE_STOP`] without work the actor stops (the supervisor starts a new one when
//! work comes). The timer is armed only while the core is idle and cancelled as soon as work
//! arrives, so 100,000 busy actors carry no idle timers. Part of [`super::SubscriptionActor`].
//!
//! Must never: stop an actor whose core is not idle, or leave an idle actor without an armed
//! timer (it would never stop).

use std::time::{Duration, Instant};

use actix::prelude::*;

use super::SubscriptionActor;
use super::core::RECENT;

/// An actor with nothing to do for this long stops.
pub(super) const IDLE_STOP: Duration = Duration::from_secs(60);

impl SubscriptionActor {
    /// Called after anything that may change whether the core is idle: busy disarms the
    /// timer; idle compacts the core and arms it.
    pub(super) fn note_idle(&mut self, ctx: &mut Context<Self>) {
        if !self.core.is_idle() {
            self.last_busy = Instant::now();
            if let Some(handle) = self.idle_timer.take() {
                ctx.cancel_future(handle);
            }
            return;
        }
        if self.idle_timer.is_none() {
            self.core.compact();
            self.idle_tick_in(ctx, true);
        }
    }

    /// Arms the timer for the next idle step, or stops the actor if its time has come.
    fn idle_tick_in(&mut self, ctx: &mut Context<Self>, first: bool) {
        match next_idle_tick(self.last_busy.elapsed(), first) {
            Some(after) => {
                let handle = ctx.run_later(after, |act, ctx| {
                    act.idle_timer = None;
                    if act.core.is_idle() {
                        act.core.compact();
                        act.idle_tick_in(ctx, false);
                    } else {
                        // Work came in without disarming the timer: record it as busy.
                        act.note_idle(ctx);
                    }
                });
                self.idle_timer = Some(handle);
            }
            None => ctx.stop(),
        }
    }
}

/// When an idle actor next wakes, having been idle for `idle_for`; `None`: stop now. The
/// first wake comes once the ids just written are forgotten ([`RECENT`]), so a compaction
/// then frees their tables too; the next at [`IDLE_STOP`].
fn next_idle_tick(idle_for: Duration, first: bool) -> Option<Duration> {
    let left = IDLE_STOP.checked_sub(idle_for).filter(|d| !d.is_zero())?;
    Some(if first { left.min(RECENT) } else { left })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_actor_idle_for_the_whole_period_stops() {
        assert_eq!(next_idle_tick(IDLE_STOP, false), None);
        assert_eq!(
            next_idle_tick(IDLE_STOP + Duration::from_secs(5), true),
            None
        );
    }

    #[test]
    fn a_newly_idle_actor_compacts_once_the_recent_ids_are_forgotten_then_stops_on_time() {
        let first = next_idle_tick(Duration::ZERO, true).expect("armed");
        assert_eq!(first, RECENT);
        let second = next_idle_tick(first, false).expect("armed");
        assert_eq!(first + second, IDLE_STOP);
        assert_eq!(next_idle_tick(first + second, false), None);
    }

    #[test]
    fn an_actor_that_went_idle_late_in_the_period_still_stops_at_its_end() {
        let at = IDLE_STOP - Duration::from_secs(1);
        assert_eq!(next_idle_tick(at, true), Some(Duration::from_secs(1)));
    }
}
