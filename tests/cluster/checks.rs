//! What a scenario must show, computed from the receiver's log, the loader's accepted
//! deliveries and the exact lease history:
//!
//! - **nothing lost**: every accepted delivery arrived;
//! - **fenced**: every request arrived while its sender held the lease of the request's shard
//!   (a tenure of that node covering the arrival, within [`SLACK_MS`] for the receiver's own
//!   scheduling delay);
//! - **duplicates only at the fault**: a delivery that arrived more than once first came from
//!   the faulted node before the fault ended (an attempt whose outcome it never recorded);
//!   one first sent by a node shortly before it handed that shard back (rebalancing) is
//!   counted apart and reported, not failed (a known engine gap, see the suite's report);
//! - **ownership moved**: how long after the fault the faulted node's shards had new owners.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::leases::{Tenure, held_by};
use crate::receiver::{Arrival, by_delivery};

/// How late after a tenure's end an arrival may be stamped (the receiver's own delay).
pub const SLACK_MS: i64 = 100;
/// A duplicate first sent this soon before its sender handed the shard back counts as one of
/// a hand-back.
pub const HAND_BACK_MS: i64 = 3_000;

/// The fault a scenario injected.
#[derive(Debug, Clone)]
pub struct Fault {
    pub node: String,
    pub at: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// For SIGSTOP: requests of the stopped node still leaving right after SIGCONT were
    /// checked against the lease before the stop; at most this many, this soon after, are
    /// told apart from real violations (and reported).
    pub resumed_grace: Option<(usize, i64)>,
}

#[derive(Debug, Default)]
pub struct Findings {
    pub accepted: usize,
    pub delivered: usize,
    pub lost: Vec<String>,
    pub requests: usize,
    pub duplicates: usize,
    pub duplicates_at_fault: usize,
    /// Duplicates first sent by a node within [`HAND_BACK_MS`] before it handed the shard back.
    pub duplicates_at_hand_back: usize,
    /// Requests sent without the lease (beyond the SIGSTOP grace).
    pub unfenced: Vec<String>,
    /// Requests of the stopped node that left right after SIGCONT.
    pub after_resume: usize,
    pub unexplained_duplicates: Vec<String>,
    /// Their delivery ids and shards.
    pub unexplained: Vec<(String, u16)>,
    /// Milliseconds from the fault until the last of the faulted node's shards had a new
    /// owner; `None` when some never moved.
    pub takeover_ms: Option<i64>,
    /// The faulted node's shards at the fault that moved, and that stayed.
    pub moved: usize,
    pub stayed: usize,
    /// The faulted node's last request under its old leases, ms after the fault.
    pub last_old_request_ms: Option<i64>,
    /// When those old leases ended, ms after the fault (earliest, latest).
    pub old_leases_ended_ms: Option<(i64, i64)>,
}

pub struct Inputs<'a> {
    pub arrivals: &'a [Arrival],
    pub accepted: &'a HashSet<String>,
    pub delivered: &'a HashSet<String>,
    pub tenures: &'a HashMap<u16, Vec<Tenure>>,
    pub shard_of: &'a HashMap<usize, u16>,
    pub node_of: &'a dyn Fn(std::net::IpAddr) -> Option<String>,
}

pub fn analyse(i: &Inputs<'_>, fault: Option<&Fault>) -> Findings {
    let mut f = Findings {
        accepted: i.accepted.len(),
        delivered: i.accepted.intersection(i.delivered).count(),
        lost: i.accepted.difference(i.delivered).cloned().collect(),
        requests: i.arrivals.len(),
        ..Findings::default()
    };
    fencing(i, fault, &mut f);
    duplicates(i, fault, &mut f);
    if let Some(fault) = fault {
        ownership(i, fault, &mut f);
    }
    f
}

fn ms(a: DateTime<Utc>, since: DateTime<Utc>) -> i64 {
    (a - since).num_milliseconds()
}

fn fencing(i: &Inputs<'_>, fault: Option<&Fault>, f: &mut Findings) {
    for a in i.arrivals {
        let (Some(node), Some(shard)) = ((i.node_of)(a.from), i.shard_of.get(&a.subscription))
        else {
            f.unfenced.push(format!("unattributable request {a:?}"));
            continue;
        };
        if held_by(i.tenures, *shard, &node, a.at, SLACK_MS).is_some() {
            continue;
        }
        let graced =
            fault
                .and_then(|x| Some((x, x.resumed_grace?)))
                .is_some_and(|(x, (n, grace))| {
                    x.node == node
                        && a.at >= x.end
                        && ms(a.at, x.end) <= grace
                        && f.after_resume < n
                });
        if graced {
            f.after_resume += 1;
        } else {
            f.unfenced.push(format!(
                "{node} sent delivery {} (attempt {}) for shard {shard} at {} without its lease",
                a.delivery_id, a.attempt, a.at
            ));
        }
    }
}

fn duplicates(i: &Inputs<'_>, fault: Option<&Fault>, f: &mut Findings) {
    for (delivery, list) in by_delivery(i.arrivals) {
        if list.len() < 2 {
            continue;
        }
        f.duplicates += list.len() - 1;
        let first = list[0];
        let at_fault = fault.is_some_and(|x| {
            (i.node_of)(first.from).as_deref() == Some(x.node.as_str())
                && ms(first.at, x.at) >= -10_000
                && first.at <= x.end
        });
        let hand_back = (i.node_of)(first.from).is_some_and(|node| {
            i.shard_of.get(&first.subscription).is_some_and(|shard| {
                held_by(i.tenures, *shard, &node, first.at, SLACK_MS)
                    .is_some_and(|t| t.released && ms(t.end, first.at) <= HAND_BACK_MS)
            })
        });
        if at_fault {
            f.duplicates_at_fault += list.len() - 1;
        } else if hand_back {
            f.duplicates_at_hand_back += list.len() - 1;
        } else {
            let who: Vec<String> = list
                .iter()
                .map(|a| {
                    format!(
                        "{} #{} at {}",
                        (i.node_of)(a.from).unwrap_or_default(),
                        a.attempt,
                        a.at
                    )
                })
                .collect();
            f.unexplained_duplicates
                .push(format!("{delivery}: {}", who.join("; ")));
            let shard = i
                .shard_of
                .get(&first.subscription)
                .copied()
                .unwrap_or(u16::MAX);
            f.unexplained.push((delivery.to_owned(), shard));
        }
    }
}

fn ownership(i: &Inputs<'_>, fault: &Fault, f: &mut Findings) {
    let mut worst: Option<i64> = Some(i64::MIN);
    let mut ended: Vec<i64> = Vec::new();
    for (shard, list) in i.tenures {
        let Some(pos) = list
            .iter()
            .position(|t| t.owner == fault.node && t.start <= fault.at && fault.at <= t.end)
        else {
            continue;
        };
        let old = &list[pos];
        let next = list[pos + 1..]
            .iter()
            .find(|t| t.owner != fault.node && t.start <= fault.end + chrono::Duration::seconds(1));
        match next {
            Some(next) => {
                f.moved += 1;
                ended.push(ms(old.end, fault.at));
                worst = worst.map(|w| w.max(ms(next.start, fault.at)));
            }
            _ => {
                f.stayed += 1;
                worst = None;
            }
        }
        let last = i
            .arrivals
            .iter()
            .filter(|a| i.shard_of.get(&a.subscription) == Some(shard))
            .filter(|a| (i.node_of)(a.from).as_deref() == Some(fault.node.as_str()))
            .filter(|a| old.covers(a.at, SLACK_MS))
            .map(|a| ms(a.at, fault.at))
            .max();
        f.last_old_request_ms = f.last_old_request_ms.max(last);
    }
    f.takeover_ms = worst.filter(|_| f.moved > 0);
    f.old_leases_ended_ms = ended
        .iter()
        .min()
        .zip(ended.iter().max())
        .map(|(a, b)| (*a, *b));
}

impl Findings {
    /// The report's numbers.
    pub fn line(&self) -> String {
        let takeover = match (self.takeover_ms, self.moved, self.stayed) {
            (Some(t), m, _) => format!("{m} shards moved, the last {t} ms after the fault"),
            (None, 0, s) => format!("no shard moved ({s} kept)"),
            (None, m, s) => format!("{m} shards moved, {s} did not"),
        };
        let last = match (self.last_old_request_ms, self.old_leases_ended_ms) {
            (Some(l), Some((a, b))) => format!(
                "faulted node's last request under its old leases at {l:+} ms, those leases ended at {a:+}..{b:+} ms"
            ),
            (Some(l), None) => {
                format!("faulted node's last request under its leases at {l:+} ms (leases kept)")
            }
            (None, Some((a, b))) => format!(
                "no request from the faulted node under its old leases after the fault, leases ended at {a:+}..{b:+} ms"
            ),
            (None, None) => "no old leases".to_owned(),
        };
        format!(
            "accepted {} | delivered {} | lost {} | requests {} | duplicates {} ({} from attempts at the fault, {} at a hand-back, {} unexplained) | \
             unfenced requests {} | requests right after SIGCONT {} | {takeover} | {last}",
            self.accepted,
            self.delivered,
            self.lost.len(),
            self.requests,
            self.duplicates,
            self.duplicates_at_fault,
            self.duplicates_at_hand_back,
            self.unexplained_duplicates.len(),
            self.unfenced.len(),
            self.after_resume,
        )
    }

    /// Failures of the checks every scenario shares.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.lost.is_empty() {
            out.push(format!(
                "{} accepted deliveries never arrived: {:?}",
                self.lost.len(),
                &self.lost[..self.lost.len().min(5)]
            ));
        }
        if self.accepted == 0 {
            out.push("nothing was accepted".into());
        }
        out.extend(self.unfenced.iter().take(5).cloned());
        out.extend(
            self.unexplained_duplicates
                .iter()
                .take(5)
                .map(|d| format!("duplicate not explained by the fault: {d}")),
        );
        out
    }
}
