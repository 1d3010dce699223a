//! One fault under steady traffic, start to finish: load for a while, inject the fault,
//! change a subscription on a healthy node during it, end it, change one on the faulted node
//! right after, watch both changes reach every node, wait for the shards to be shared fairly
//! again, stop the load, wait for every accepted delivery, and check the lot
//! ([`crate::checks`]). Returns the failures (empty when it passed) and writes the report line.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::checks::{self, Fault, Inputs};
use crate::cluster::{Cluster, NODES};
use crate::infra::NODE_TTL_MS;
use crate::load::Loader;
use crate::net::{POSTGRES, REDIS};
use crate::probe::{self, Seen};
use crate::{debug, leases, report};

/// Requests a second sent to each node.
pub const RATE_PER_NODE: u64 = 40;
/// How long a fault lasts: twice the lease.
const FAULT_MS: u64 = 2 * NODE_TTL_MS;
/// A change must reach every node within this of the fault's end (or of the change).
const CHANGE_WITHIN_MS: i64 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kill,
    Stop,
    CutRedis,
    CutPostgres,
    RedisDown,
}

impl Kind {
    fn name(self, k: usize) -> String {
        match self {
            Kind::Kill => format!("kill -9 of node{k}, restarted after {FAULT_MS} ms"),
            Kind::Stop => format!("SIGSTOP of node{k} for {FAULT_MS} ms, then SIGCONT"),
            Kind::CutRedis => format!("node{k} cut off from Redis for {FAULT_MS} ms"),
            Kind::CutPostgres => format!("node{k} cut off from Postgres for {FAULT_MS} ms"),
            Kind::RedisDown => format!("redis-server stopped for {FAULT_MS} ms"),
        }
    }

    /// Whether the faulted node's shards must move to the others.
    fn moves_ownership(self) -> bool {
        matches!(self, Kind::Kill | Kind::Stop | Kind::CutPostgres)
    }
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn inject(c: &mut Cluster, kind: Kind, k: usize) {
    match kind {
        Kind::Kill => c.node_mut(k).kill9(),
        Kind::Stop => c.node(k).sigstop(),
        Kind::CutRedis => c.net.cut(k, REDIS),
        Kind::CutPostgres => c.net.cut(k, POSTGRES),
        Kind::RedisDown => c.redis.stop(),
    }
}

async fn end(c: &mut Cluster, kind: Kind, k: usize) {
    match kind {
        Kind::Kill => c.node_mut(k).start().await,
        Kind::Stop => c.node(k).sigcont(),
        Kind::CutRedis => c.net.heal(k, REDIS),
        Kind::CutPostgres => c.net.heal(k, POSTGRES),
        Kind::RedisDown => c.redis.spawn(),
    }
}

fn every_node(c: &Cluster) -> Vec<(usize, String)> {
    (1..=NODES).map(|k| (k, c.node(k).base())).collect()
}

type Watched = actix_web::rt::task::JoinHandle<Result<(DateTime<Utc>, Seen), String>>;

/// A change made through node `via` on probe `p` (retried until answered), then watched on
/// every node until `deadline`; runs on its own so a hanging change does not hold the fault
/// open.
fn change_and_watch(c: &Cluster, via: usize, p: usize, version: u32, deadline: Instant) -> Watched {
    let (base, nodes, probe) = (c.node(via).base(), every_node(c), c.probes[p].clone());
    actix_web::rt::spawn(async move {
        let at = probe::change(&base, &probe, version, Duration::from_secs(15)).await?;
        Ok((at, probe::observe(&nodes, &probe, version, deadline).await))
    })
}

/// Checks a watched change reached every node within [`CHANGE_WITHIN_MS`] of `since` (or of
/// the change, when later).
/// `(since, made_by)`: reaching every node is timed from `since` (or the change, when later
/// or `None`); with `made_by`, the change must have been made before it.
async fn settle_change(
    what: &str,
    watched: Watched,
    (since, made_by): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    accepted: &mut HashSet<String>,
    failures: &mut Vec<String>,
) -> String {
    let (at, seen) = match watched.await.unwrap_or_else(|e| Err(e.to_string())) {
        Ok(w) => w,
        Err(e) => {
            failures.push(format!("{what}: {e}"));
            return format!("{what}: not made ({e})");
        }
    };
    accepted.extend(seen.deliveries.iter().cloned());
    if made_by.is_some_and(|by| at > by) {
        failures.push(format!(
            "{what}: could only be made at {at}, after the fault ended"
        ));
    }
    let since = since.map_or(at, |s| s.max(at));
    match seen.latest_after(since) {
        Some(ms) if ms <= CHANGE_WITHIN_MS => {}
        _ => failures.push(format!(
            "{what} did not reach every node within {CHANGE_WITHIN_MS} ms: {}",
            seen.describe(since)
        )),
    }
    format!(
        "{what}: made at {}, seen {}",
        at.format("%H:%M:%S%.3f"),
        seen.describe(since)
    )
}

/// Runs one scenario on node `k`; `version` numbers its probe changes.
pub async fn run(c: &mut Cluster, kind: Kind, k: usize, version: u32) -> Vec<String> {
    let name = kind.name(k);
    let mut failures = Vec::new();
    let mark = c.rx.mark();
    let dups_before = c.possible_duplicates().await;
    let loader = Loader::start(&c.bases(), &c.subs[..30], RATE_PER_NODE);
    sleep_ms(3_000).await;
    let node = c.node(k).node_id.clone();
    let fault_at = Utc::now();
    let fault_clock = Instant::now();
    inject(c, kind, k);
    sleep_ms(1_000).await;
    let watch_until = fault_clock + Duration::from_millis(FAULT_MS + 20_000);
    let healthy = k % NODES + 1;
    let during = change_and_watch(c, healthy, 0, version, watch_until);
    let on_faulted =
        (kind == Kind::CutRedis).then(|| change_and_watch(c, k, 1, version, watch_until));
    sleep_ms(2_000).await;
    debug::note(&format!(
        "{name}: sessions 3 s into the fault:\n{}",
        debug::activity(&c.db).await
    ));
    let left = Duration::from_millis(FAULT_MS).saturating_sub(fault_clock.elapsed());
    tokio::time::sleep(left).await;
    let end_at = Utc::now();
    end(c, kind, k).await;
    let end_clock = Instant::now();
    let after = change_and_watch(c, k, 2, version, Instant::now() + Duration::from_secs(22));
    let mut accepted = HashSet::new();
    // Cut off from Redis only, a node keeps Postgres: changes reach it, and are made on it,
    // through Postgres during the cut, not only after it.
    let redis_cut = kind == Kind::CutRedis;
    let (since, label) = if redis_cut {
        (None, "during the cut, after the change")
    } else {
        (Some(end_at), "during the fault, after the fault's end")
    };
    let during_by = redis_cut.then_some(end_at);
    let mut notes = vec![
        settle_change(
            &format!("change on a healthy node {label}"),
            during,
            (since, during_by),
            &mut accepted,
            &mut failures,
        )
        .await,
    ];
    if let Some(w) = on_faulted {
        notes.push(
            settle_change(
                &format!("change on the cut-off node {label}"),
                w,
                (since, during_by),
                &mut accepted,
                &mut failures,
            )
            .await,
        );
    }
    notes.push(
        settle_change(
            "change on the faulted node right after recovery, after the change",
            after,
            (None, None),
            &mut accepted,
            &mut failures,
        )
        .await,
    );
    match c.wait_balanced(Duration::from_secs(20)).await {
        Ok(_) => notes.push(format!(
            "fair shares again {} ms after the fault ended",
            end_clock.elapsed().as_millis()
        )),
        Err(e) => failures.push(e),
    }
    sleep_ms(2_000).await;
    let load = loader.stop().await;
    accepted.extend(load.accepted.iter().cloned());
    let _ = c.rx.wait_for(&accepted, Duration::from_secs(30)).await;
    let engine_dups = c.possible_duplicates().await - dups_before;
    let tenures = leases::tenures(&c.db).await;
    let fault = Fault {
        node: if kind == Kind::RedisDown {
            String::new()
        } else {
            node.clone()
        },
        at: fault_at,
        end: end_at,
        resumed_grace: (kind == Kind::Stop).then_some((2, 250)),
    };
    let (arrivals, delivered, shard_of) = (c.rx.since(mark), c.rx.delivered(), c.shards());
    let node_of = |ip| c.node_of(ip);
    let inputs = Inputs {
        arrivals: &arrivals,
        accepted: &accepted,
        delivered: &delivered,
        tenures: &tenures,
        shard_of: &shard_of,
        node_of: &node_of,
    };
    let f = checks::analyse(&inputs, Some(&fault));
    failures.extend(f.failures());
    failures.extend(
        load.unexpected
            .iter()
            .take(5)
            .map(|u| format!("unexpected answer: {u}")),
    );
    if kind.moves_ownership() {
        match f.takeover_ms {
            Some(ms) if ms <= i64::try_from(NODE_TTL_MS).unwrap_or(0) + 2_000 => {}
            _ => failures.push(format!(
                "ownership did not move within TTL + 2 s: {} moved, {} stayed, last after {:?} ms",
                f.moved, f.stayed, f.takeover_ms
            )),
        }
    } else {
        let moved = epoch_changes(&tenures, fault_at, end_at);
        if moved > 0 {
            failures.push(format!(
                "{moved} shards changed hands during a fault that must not move them"
            ));
        }
    }
    if kind == Kind::CutRedis {
        let ip = std::net::IpAddr::V4(c.node(k).ip);
        let sent = arrivals
            .iter()
            .filter(|a| a.from == ip && a.at > fault_at && a.at < end_at)
            .count();
        notes.push(format!(
            "node{k} delivered {sent} requests while cut off from Redis"
        ));
        if sent == 0 {
            failures.push(format!("node{k} delivered nothing while cut off from Redis (it kept Postgres and its leases)"));
        }
    }
    for (id, shard) in f.unexplained.iter().take(4) {
        let held: Vec<String> = tenures
            .get(shard)
            .into_iter()
            .flatten()
            .filter(|t| t.end > fault_at - chrono::Duration::seconds(5))
            .map(|t| {
                format!(
                    "{}@{} {}..{}",
                    t.owner,
                    t.epoch,
                    t.start.format("%M:%S%.3f"),
                    t.end.format("%M:%S%.3f")
                )
            })
            .collect();
        let row = debug::delivery(&c.db, id).await;
        debug::note(&format!(
            "{name}: duplicate {row} | shard {shard}: {}",
            held.join(", ")
        ));
    }
    report(&format!(
        "{name} (fault {} to {}): {} | engine-counted possible duplicates {engine_dups} | loader: {} answered 202, {} unanswered | {}{}",
        fault_at.format("%H:%M:%S%.3f"),
        end_at.format("%H:%M:%S%.3f"),
        f.line(),
        load.requests_ok,
        load.unanswered,
        notes.join(" | "),
        if failures.is_empty() {
            String::new()
        } else {
            format!(" | FAILED: {}", failures.join("; "))
        }
    ));
    failures
        .into_iter()
        .map(|e| format!("{name}: {e}"))
        .collect()
}

/// Shards whose epoch changed between `from` and `to`.
fn epoch_changes(
    tenures: &std::collections::HashMap<u16, Vec<leases::Tenure>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> usize {
    tenures
        .values()
        .filter(|list| list.iter().any(|t| t.start > from && t.start < to))
        .count()
}
