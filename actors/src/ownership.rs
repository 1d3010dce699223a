//! Fenced ownership. Subscriptions are spread over [`SHARDS`] shards; a node delivers a
//! subscription only while it holds its shard's lease in Postgres (`shards` table), at the
//! epoch it was granted. Postgres is the coordinator: a lease lasts `COURIER_NODE_TTL` from
//! its last renewal by Postgres' clock, and a takeover increases the epoch.
//!
//! This node's view, [`Leases`], is shared by the supervisor (which renews and takes leases
//! every tick), every subscription actor (which asks before each send) and the persistence
//! actor (whose outcome writes Postgres fences again by epoch). A lease counts as valid here
//! only until `renewal sent + ttl − margin` by this process's monotonic clock, so a node that
//! froze (or lost Postgres) stops sending before anyone else may take over; and whatever it
//! still tries to record afterwards is refused by the epoch check.
//!
//! Must never: report a lease valid past its local deadline, or let a lease be released while
//! its outcomes are still unwritten (the supervisor drains and flushes first).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::db::shards::{self, LeaseRow};
use crate::domain::SHARDS;

/// One lease as this node holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub epoch: i64,
    /// Past this instant the lease is not relied on, renewed or not.
    pub valid_until: Instant,
    /// Being handed back (rebalancing or shutdown): no new attempts under it.
    pub releasing: bool,
}

#[derive(Debug, Default)]
struct Inner {
    mine: HashMap<u16, Lease>,
    /// Other nodes' live leases: where to forward work for their shards.
    owners: HashMap<u16, String>,
}

/// This node's leases, shared by every actor.
#[derive(Debug, Clone, Default)]
pub struct Leases {
    inner: Arc<RwLock<Inner>>,
    /// Whether the first tick ran (it reclaims this node id's own leases).
    started: Arc<std::sync::atomic::AtomicBool>,
}

impl Leases {
    /// The epoch under which this node may start an attempt for `shard` now.
    pub fn current(&self, shard: u16) -> Option<i64> {
        let inner = self.read();
        let lease = inner.mine.get(&shard)?;
        (!lease.releasing && lease.valid_until > Instant::now()).then_some(lease.epoch)
    }

    /// Whether an attempt may still go out under `(shard, epoch)` at `now`.
    pub fn allows(&self, shard: u16, epoch: i64, now: Instant) -> bool {
        self.read()
            .mine
            .get(&shard)
            .is_some_and(|l| l.epoch == epoch && !l.releasing && l.valid_until > now)
    }

    /// The node holding `shard` when it is another one.
    pub fn owner_elsewhere(&self, shard: u16) -> Option<String> {
        self.read().owners.get(&shard).cloned()
    }

    /// Every lease this node holds (valid or not), for renewal.
    pub fn held(&self) -> Vec<LeaseRow> {
        self.read()
            .mine
            .iter()
            .map(|(s, l)| LeaseRow {
                shard: i32::from(*s),
                epoch: l.epoch,
            })
            .collect()
    }

    pub fn count(&self) -> usize {
        self.read().mine.len()
    }

    /// Shards this node holds and is not handing back.
    pub fn active_shards(&self) -> Vec<u16> {
        let inner = self.read();
        let mut out: Vec<u16> = inner
            .mine
            .iter()
            .filter(|(_, l)| !l.releasing)
            .map(|(s, _)| *s)
            .collect();
        out.sort_unstable();
        out
    }

    fn set(&self, shard: u16, lease: Lease) {
        self.write().mine.insert(shard, lease);
    }

    fn remove(&self, shard: u16) -> Option<Lease> {
        self.write().mine.remove(&shard)
    }

    fn mark_releasing(&self, shard: u16) {
        if let Some(l) = self.write().mine.get_mut(&shard) {
            l.releasing = true;
        }
    }

    fn set_owners(&self, owners: HashMap<u16, String>) {
        self.write().owners = owners;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the lease keeper needs to know.
#[derive(Debug, Clone)]
pub struct LeasePolicy {
    pub node: String,
    pub ttl: Duration,
}

impl LeasePolicy {
    /// How often leases are renewed and taken.
    pub fn tick(&self) -> Duration {
        (self.ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// How long before Postgres' deadline this node stops relying on a lease.
    fn margin(&self) -> Duration {
        (self.ttl / 10).max(Duration::from_millis(20))
    }

    fn ttl_secs(&self) -> f64 {
        self.ttl.as_secs_f64()
    }
}

/// What one tick changed.
#[derive(Debug, Default)]
pub struct TickReport {
    /// Shards this node no longer holds (expired, or taken by another node).
    pub lost: Vec<u16>,
    /// Shards newly taken, with their epochs.
    pub gained: Vec<(u16, i64)>,
    /// Shards this node holds beyond its fair share: to drain and release.
    pub excess: Vec<u16>,
}

/// Heartbeat, renew what is held, take a fair share of what is free. Errors leave the leases
/// as they are; they simply stop being valid when their local deadline passes.
pub async fn tick(db: &PgPool, policy: &LeasePolicy, leases: &Leases) -> TickReport {
    let mut report = TickReport::default();
    let sent = Instant::now();
    let live = match shards::heartbeat(db, &policy.node, policy.ttl_secs()).await {
        Ok(n) => n.max(1),
        Err(e) => {
            tracing::warn!(error = %e, "heartbeat failed; leases lapse unless renewed in time");
            return report;
        }
    };
    let valid_until = sent + policy.ttl.saturating_sub(policy.margin());
    renew(db, policy, leases, valid_until, &mut report).await;
    let target = usize::from(SHARDS).div_ceil(usize::try_from(live).unwrap_or(1));
    acquire(db, policy, leases, target, &mut report).await;
    let active = leases.active_shards();
    if active.len() > target {
        report.excess = active[target..].to_vec();
        for s in &report.excess {
            leases.mark_releasing(*s);
        }
    }
    match shards::owners(db).await {
        Ok(rows) => leases.set_owners(
            rows.into_iter()
                .filter(|(_, o)| *o != policy.node)
                .filter_map(|(s, o)| Some((u16::try_from(s).ok()?, o)))
                .collect(),
        ),
        Err(e) => tracing::debug!(error = %e, "cannot read shard owners"),
    }
    report
}

async fn renew(
    db: &PgPool,
    policy: &LeasePolicy,
    leases: &Leases,
    valid_until: Instant,
    report: &mut TickReport,
) {
    // A lease this node stopped trusting (its local deadline passed: its actors stopped and
    // dropped what they knew) is not renewed under the same epoch: it is taken again under a
    // new one, so whatever the old epoch still tries to record is refused and counted.
    let now = Instant::now();
    let (held, lapsed): (Vec<LeaseRow>, Vec<LeaseRow>) =
        leases.held().into_iter().partition(|row| {
            u16::try_from(row.shard)
                .ok()
                .and_then(|s| leases.read().mine.get(&s).map(|l| l.valid_until > now))
                .unwrap_or(false)
        });
    for row in &lapsed {
        if let Ok(shard) = u16::try_from(row.shard) {
            leases.remove(shard);
            report.lost.push(shard);
        }
    }
    let renewed = match shards::renew(db, &policy.node, &held, policy.ttl_secs()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot renew leases");
            return;
        }
    };
    for row in &held {
        let Ok(shard) = u16::try_from(row.shard) else {
            continue;
        };
        if renewed.contains(row) {
            let releasing = leases.read().mine.get(&shard).is_some_and(|l| l.releasing);
            leases.set(
                shard,
                Lease {
                    epoch: row.epoch,
                    valid_until,
                    releasing,
                },
            );
        } else {
            leases.remove(shard);
            report.lost.push(shard);
        }
    }
    if !report.lost.is_empty() {
        tracing::warn!(shards = ?report.lost, "leases lost; their subscriptions stop here at once");
    }
}

async fn acquire(
    db: &PgPool,
    policy: &LeasePolicy,
    leases: &Leases,
    target: usize,
    report: &mut TickReport,
) {
    // A fair share of free shards; and any shard nobody has taken for two ticks (its
    // fair owner may be gone), whatever the share: rebalancing evens it out later.
    let fair = i64::try_from(target.saturating_sub(leases.count())).unwrap_or(0);
    let stale_after = 2.0 * policy.tick().as_secs_f64();
    let sent = Instant::now();
    let mut rows = Vec::new();
    // The first tick of a process also takes back what this node id still leases: the
    // identity lock proves the process that held them is gone.
    // Only one query may reclaim: a second would take this node's just-taken shards again
    // under a new epoch (fencing out their first epoch, and resuming their work twice).
    let mut reclaim = !leases
        .started
        .swap(true, std::sync::atomic::Ordering::SeqCst);
    for (n, expired) in [(fair, 0.0), (i64::from(SHARDS), stale_after)] {
        if n == 0 {
            continue;
        }
        let taken = shards::acquire(db, &policy.node, n, policy.ttl_secs(), expired, reclaim).await;
        reclaim = false;
        match taken {
            Ok(r) => rows.extend(r),
            Err(e) => {
                tracing::warn!(error = %e, "cannot take leases");
                return;
            }
        }
    }
    let valid_until = sent + policy.ttl.saturating_sub(policy.margin());
    for row in rows {
        let Ok(shard) = u16::try_from(row.shard) else {
            continue;
        };
        leases.set(
            shard,
            Lease {
                epoch: row.epoch,
                valid_until,
                releasing: false,
            },
        );
        report.gained.push((shard, row.epoch));
    }
    if !report.gained.is_empty() {
        tracing::info!(shards = ?report.gained, node = %policy.node, "leases taken");
    }
}

/// Hands leases back (after their work was drained and flushed): another node may take them
/// at once.
pub async fn release(db: &PgPool, policy: &LeasePolicy, leases: &Leases, shards_: &[u16]) {
    let rows: Vec<LeaseRow> = shards_
        .iter()
        .filter_map(|s| {
            leases.remove(*s).map(|l| LeaseRow {
                shard: i32::from(*s),
                epoch: l.epoch,
            })
        })
        .collect();
    match shards::release(db, &policy.node, &rows).await {
        Ok(n) => tracing::info!(released = n, shards = ?shards_, "leases handed back"),
        Err(e) => tracing::warn!(error = %e, "cannot hand leases back; they expire on their own"),
    }
}

/// What [`Identity::confirm`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityCheck {
    /// This process holds its node id.
    Held,
    /// Another live process holds it (or this one gave it up at shutdown).
    Taken,
    /// Postgres cannot be reached: nothing is known, and leases lapse on their own.
    Unreachable,
}

/// Holds the advisory lock that says this process runs as `node`, for as long as it lives.
pub struct Identity {
    conn: tokio::sync::Mutex<Option<sqlx::PgConnection>>,
    /// Given up at shutdown: never re-claimed.
    released: std::sync::atomic::AtomicBool,
    url: String,
    node: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "another live Courier process runs as COURIER_NODE_ID={0:?}; give each node its own id"
    )]
    Taken(String),
    #[error("cannot reach Postgres to claim the node id")]
    Db(#[from] sqlx::Error),
}

impl Identity {
    /// Claims `node` or fails when a live process holds it.
    pub async fn claim(url: &str, node: &str) -> Result<Self, IdentityError> {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(url).await?;
        if !shards::lock_identity(&mut conn, node).await? {
            return Err(IdentityError::Taken(node.to_owned()));
        }
        Ok(Self {
            conn: tokio::sync::Mutex::new(Some(conn)),
            released: std::sync::atomic::AtomicBool::new(false),
            url: url.to_owned(),
            node: node.to_owned(),
        })
    }

    /// Gives the id up (at shutdown): another process may start as this node at once.
    pub async fn release(&self) {
        use sqlx::Connection as _;
        let mut guard = self.conn.lock().await;
        self.released
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(conn) = guard.take() {
            let _ = conn.close().await;
        }
    }

    /// Whether this process still holds its id (re-claiming it after a lost connection).
    pub async fn confirm(&self) -> IdentityCheck {
        use sqlx::Connection as _;
        let mut guard = self.conn.lock().await;
        if self.released.load(std::sync::atomic::Ordering::SeqCst) {
            return IdentityCheck::Taken;
        }
        if let Some(conn) = guard.as_mut()
            && conn.ping().await.is_ok()
        {
            return IdentityCheck::Held;
        }
        *guard = None;
        let Ok(mut conn) = sqlx::PgConnection::connect(&self.url).await else {
            return IdentityCheck::Unreachable;
        };
        match shards::lock_identity(&mut conn, &self.node).await {
            Ok(true) => {
                *guard = Some(conn);
                IdentityCheck::Held
            }
            Ok(false) => {
                tracing::error!(node = %self.node, "another process now runs as this node id; this one stops delivering");
                IdentityCheck::Taken
            }
            Err(_) => IdentityCheck::Unreachable,
        }
    }
}
