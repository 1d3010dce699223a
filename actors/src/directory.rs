//! The in-process directory of live subscriptions: a read model of the subscription change
//! log (`subscription_changes`), and the index fan-out uses to find every subscription whose
//! filter matches an event type without scanning them all.
//!
//! It is written only by [`Directory::catch_up`] (and by [`Directory::apply`] with rows a
//! change or a look-up just read from Postgres); rows only ever move forward by `version`.
//! `catch_up` reads the log after the last `seq` it applied, so a missed wake-up (Postgres
//! `NOTIFY` or Redis) only delays a change until the next wake-up or periodic check
//! ([`crate::feed`]); a log pruned past that point means a full reload.
//!
//! Must never: serve a row older than one it has already served, or skip a change.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use sqlx::PgPool;
use uuid::Uuid;

use crate::cache::SubscriptionCache;
use crate::db::changes;
use crate::db::subscriptions::{self, SubscriptionRow};
use crate::domain::EventType;
use crate::filter::Filter;

/// Changes read per round trip while catching up.
const CATCH_UP_PAGE: i64 = 1_000;

#[derive(Default)]
struct Inner {
    rows: HashMap<Uuid, Arc<SubscriptionRow>>,
    /// Content filters, compiled once per version.
    filters: HashMap<Uuid, Arc<Filter>>,
    /// Each application's fan-out index.
    apps: HashMap<Uuid, Index>,
    /// The last change applied.
    seq: i64,
}

/// One application's fan-out index.
#[derive(Default)]
struct Index {
    /// Exact pattern → subscriptions.
    exact: HashMap<String, HashSet<Uuid>>,
    /// Prefix pattern (`order.` for `order.*`) → subscriptions.
    prefix: HashMap<String, HashSet<Uuid>>,
    /// Subscriptions that take every event (`*` or no patterns).
    all: HashSet<Uuid>,
}

#[derive(Clone, Default)]
pub struct Directory {
    inner: Arc<RwLock<Inner>>,
    /// One catch-up at a time.
    catching_up: Arc<tokio::sync::Mutex<()>>,
}

/// What a catch-up changed: each id with its row now (`None`: deleted).
pub type Applied = Vec<(Uuid, Option<Arc<SubscriptionRow>>)>;

impl Directory {
    pub fn get(&self, id: Uuid) -> Option<Arc<SubscriptionRow>> {
        self.read().rows.get(&id).cloned()
    }

    pub fn len(&self) -> usize {
        self.read().rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A subscription's compiled content filter, when it has one.
    pub fn content_filter(&self, id: Uuid) -> Option<Arc<Filter>> {
        self.read().filters.get(&id).cloned()
    }

    /// The last change this directory has applied.
    pub fn seq(&self) -> i64 {
        self.read().seq
    }

    /// Takes `row` unless a newer (or the same) version is already here.
    pub fn apply(&self, row: SubscriptionRow) -> Option<Arc<SubscriptionRow>> {
        let mut inner = self.write();
        if inner
            .rows
            .get(&row.id)
            .is_some_and(|r| r.version >= row.version)
        {
            return None;
        }
        inner.unindex(row.id);
        inner.index(&row);
        let row = Arc::new(row);
        inner.rows.insert(row.id, row.clone());
        Some(row)
    }

    /// Forgets a subscription that was deleted at `version` (unless a newer row is here).
    pub fn remove(&self, id: Uuid, version: i64) -> bool {
        let mut inner = self.write();
        if inner.rows.get(&id).is_none_or(|r| r.version > version) {
            return false;
        }
        inner.unindex(id);
        inner.rows.remove(&id);
        true
    }

    /// Loads everything (at start, or when the log was pruned past this directory's `seq`).
    pub async fn reload(&self, db: &PgPool) -> Result<(), sqlx::Error> {
        let _one = self.catching_up.lock().await;
        let (max, _) = changes::bounds(db).await?;
        let rows = subscriptions::list_all_live(db).await?;
        let mut fresh = Inner {
            seq: max,
            ..Inner::default()
        };
        for row in rows {
            fresh.index(&row);
            fresh.rows.insert(row.id, Arc::new(row));
        }
        *self.write() = fresh;
        Ok(())
    }

    /// Applies every change after the last one applied, reading rows from the Redis cache
    /// (by version) or Postgres. Returns what changed.
    pub async fn catch_up(
        &self,
        db: &PgPool,
        cache: &SubscriptionCache,
    ) -> Result<Applied, sqlx::Error> {
        let _one = self.catching_up.lock().await;
        let mut applied = Applied::new();
        loop {
            let from = self.seq();
            let page = changes::after(db, from, CATCH_UP_PAGE).await?;
            let Some(last) = page.last().map(|c| c.seq) else {
                return Ok(applied);
            };
            if from > 0
                && page.first().is_some_and(|c| c.seq > from + 1)
                && pruned(db, from).await?
            {
                drop(_one);
                self.reload(db).await?;
                return Ok(applied);
            }
            let wanted: Vec<(Uuid, i64)> = page
                .iter()
                .map(|c| (c.subscription_id, c.version))
                .collect();
            let rows = cache.get_versions(db, &wanted).await?;
            for (id, version) in &wanted {
                match rows.get(id) {
                    Some(row) => {
                        if let Some(r) = self.apply(row.clone()) {
                            applied.push((*id, Some(r)));
                        }
                    }
                    None => {
                        if self.remove(*id, *version) {
                            applied.push((*id, None));
                        }
                    }
                }
            }
            let mut inner = self.write();
            inner.seq = inner.seq.max(last);
        }
    }

    /// How many live subscriptions there are of each status.
    pub fn count_by_status(&self) -> Vec<(&'static str, usize)> {
        let inner = self.read();
        crate::domain::SubscriptionStatus::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str(),
                    inner
                        .rows
                        .values()
                        .filter(|r| r.status == s.as_str())
                        .count(),
                )
            })
            .collect()
    }

    /// Every live subscription of `application_id` whose filter wants `event`.
    pub fn matching(&self, application_id: Uuid, event: &EventType) -> Vec<Arc<SubscriptionRow>> {
        let inner = self.read();
        let Some(index) = inner.apps.get(&application_id) else {
            return Vec::new();
        };
        let mut ids: HashSet<Uuid> = index.all.clone();
        if let Some(s) = index.exact.get(event.as_str()) {
            ids.extend(s);
        }
        let t = event.as_str();
        for (i, _) in t.match_indices('.') {
            if let Some(s) = index.prefix.get(&t[..=i]) {
                ids.extend(s);
            }
        }
        let mut rows: Vec<Arc<SubscriptionRow>> = ids
            .iter()
            .filter_map(|id| inner.rows.get(id).cloned())
            .collect();
        rows.sort_by_key(|r| r.id);
        rows
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

/// Whether changes after `seq` were pruned (the oldest kept is beyond the next one).
async fn pruned(db: &PgPool, seq: i64) -> Result<bool, sqlx::Error> {
    let (_, min) = changes::bounds(db).await?;
    Ok(min > seq + 1)
}

impl Inner {
    fn index(&mut self, row: &SubscriptionRow) {
        if let Some(raw) = &row.filter {
            match Filter::parse(&raw.0) {
                Ok(f) => {
                    self.filters.insert(row.id, Arc::new(f));
                }
                // Validated when stored: a filter that no longer parses delivers everything
                // rather than dropping events.
                Err(e) => {
                    tracing::warn!(id = %row.id, error = %e, "stored filter does not parse; ignored")
                }
            }
        }
        let index = self.apps.entry(row.application_id).or_default();
        if row.event_types.is_empty() {
            index.all.insert(row.id);
        }
        for p in &row.event_types {
            if p == "*" {
                index.all.insert(row.id);
            } else if let Some(prefix) = p.strip_suffix('*') {
                index
                    .prefix
                    .entry(prefix.to_owned())
                    .or_default()
                    .insert(row.id);
            } else {
                index.exact.entry(p.clone()).or_default().insert(row.id);
            }
        }
    }

    fn unindex(&mut self, id: Uuid) {
        self.filters.remove(&id);
        let Some(old) = self.rows.get(&id).cloned() else {
            return;
        };
        let Some(index) = self.apps.get_mut(&old.application_id) else {
            return;
        };
        index.all.remove(&id);
        for p in &old.event_types {
            let (map, key) = match p.strip_suffix('*') {
                Some(prefix) if p != "*" => (&mut index.prefix, prefix.to_owned()),
                _ => (&mut index.exact, p.clone()),
            };
            if let Some(set) = map.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    map.remove(&key);
                }
            }
        }
        if index.all.is_empty() && index.exact.is_empty() && index.prefix.is_empty() {
            self.apps.remove(&old.application_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use sqlx::types::Json;

    fn row(types: &[&str]) -> SubscriptionRow {
        SubscriptionRow {
            id: Uuid::now_v7(),
            application_id: APP,
            target_url: "https://e.com/".into(),
            event_types: types.iter().map(|s| s.to_string()).collect(),
            description: None,
            headers: Json(Default::default()),
            headers_sealed: None,
            filter: None,
            retry_schedule_ms: None,
            rate_limit_per_second: None,
            max_in_flight: 1,
            timeout_ms: None,
            status: "active".into(),
            disabled_reason: None,
            secret: "s".into(),
            previous_secret: None,
            previous_secret_expires_at: None,
            requires_signature: false,
            version: 1,
            shard: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    const APP: Uuid = Uuid::from_u128(1);

    fn ids(d: &Directory, t: &str) -> Vec<Uuid> {
        d.matching(APP, &EventType::parse(t).expect("valid"))
            .iter()
            .map(|r| r.id)
            .collect()
    }

    #[test]
    fn fan_out_finds_exact_prefix_and_catch_all_subscriptions() {
        let d = Directory::default();
        let (exact, prefix, star, none, other) = (
            row(&["order.created"]),
            row(&["order.*"]),
            row(&["*"]),
            row(&[]),
            row(&["user.created"]),
        );
        for r in [&exact, &prefix, &star, &none, &other] {
            d.apply(r.clone());
        }
        let mut want = vec![exact.id, prefix.id, star.id, none.id];
        want.sort();
        assert_eq!(ids(&d, "order.created"), want);
        let mut want = vec![prefix.id, star.id, none.id];
        want.sort();
        assert_eq!(ids(&d, "order.item.added"), want);
        let mut elsewhere = row(&["*"]);
        elsewhere.application_id = Uuid::from_u128(2);
        d.apply(elsewhere.clone());
        assert!(
            !ids(&d, "order.created").contains(&elsewhere.id),
            "fan-out stays in its application"
        );
        assert_eq!(
            d.matching(
                elsewhere.application_id,
                &EventType::parse("x").expect("valid")
            )
            .len(),
            1
        );
    }

    #[test]
    fn newer_versions_reindex_older_ones_are_ignored_and_remove_forgets() {
        let d = Directory::default();
        let mut r = row(&["a.b"]);
        d.apply(r.clone());
        r.event_types = vec!["c.d".into()];
        r.version = 2;
        assert!(d.apply(r.clone()).is_some());
        assert!(ids(&d, "a.b").is_empty());
        assert_eq!(ids(&d, "c.d"), vec![r.id]);
        let mut stale = r.clone();
        stale.version = 1;
        stale.event_types = vec!["a.b".into()];
        assert!(
            d.apply(stale).is_none(),
            "an older version never replaces a newer one"
        );
        assert_eq!(ids(&d, "c.d"), vec![r.id]);
        assert!(!d.remove(r.id, 1), "a delete older than the row is ignored");
        assert!(d.remove(r.id, 3));
        assert!(ids(&d, "c.d").is_empty());
        assert!(d.is_empty());
    }
}
