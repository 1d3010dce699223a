//! The in-process directory of live subscriptions: the first place ingestion looks a
//! subscription up (Redis and then Postgres back it), and the index that fan-out uses to find
//! every subscription whose filter matches an event type without scanning them all.
//!
//! Routes update it synchronously with the row they just wrote, so a change is visible to
//! the next request on this node at once. It is rebuilt from Postgres periodically, which
//! also picks up changes made by other nodes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::db::subscriptions::SubscriptionRow;
use crate::domain::EventType;

#[derive(Default)]
struct Inner {
    rows: HashMap<Uuid, Arc<SubscriptionRow>>,
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
}

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

    pub fn upsert(&self, row: SubscriptionRow) {
        let mut inner = self.write();
        inner.unindex(row.id);
        inner.index(&row);
        inner.rows.insert(row.id, Arc::new(row));
    }

    pub fn remove(&self, id: Uuid) {
        let mut inner = self.write();
        inner.unindex(id);
        inner.rows.remove(&id);
    }

    /// Replaces everything with `rows` (a full reload from Postgres).
    pub fn replace_all(&self, rows: Vec<SubscriptionRow>) {
        let mut fresh = Inner::default();
        for row in rows {
            fresh.index(&row);
            fresh.rows.insert(row.id, Arc::new(row));
        }
        *self.write() = fresh;
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

    /// Every live subscription whose filter wants `event`.
    pub fn matching(&self, event: &EventType) -> Vec<Arc<SubscriptionRow>> {
        let inner = self.read();
        let mut ids: HashSet<Uuid> = inner.all.clone();
        if let Some(s) = inner.exact.get(event.as_str()) {
            ids.extend(s);
        }
        let t = event.as_str();
        for (i, _) in t.match_indices('.') {
            if let Some(s) = inner.prefix.get(&t[..=i]) {
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

impl Inner {
    fn index(&mut self, row: &SubscriptionRow) {
        if row.event_types.is_empty() {
            self.all.insert(row.id);
        }
        for p in &row.event_types {
            if p == "*" {
                self.all.insert(row.id);
            } else if let Some(prefix) = p.strip_suffix('*') {
                self.prefix
                    .entry(prefix.to_owned())
                    .or_default()
                    .insert(row.id);
            } else {
                self.exact.entry(p.clone()).or_default().insert(row.id);
            }
        }
    }

    fn unindex(&mut self, id: Uuid) {
        let Some(old) = self.rows.get(&id).cloned() else {
            return;
        };
        self.all.remove(&id);
        for p in &old.event_types {
            let (map, key) = match p.strip_suffix('*') {
                Some(prefix) if p != "*" => (&mut self.prefix, prefix.to_owned()),
                _ => (&mut self.exact, p.clone()),
            };
            if let Some(set) = map.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    map.remove(&key);
                }
            }
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
            target_url: "https://e.com/".into(),
            event_types: types.iter().map(|s| s.to_string()).collect(),
            description: None,
            headers: Json(Default::default()),
            rate_limit_per_second: None,
            max_in_flight: 1,
            timeout_ms: None,
            status: "active".into(),
            disabled_reason: None,
            secret: "s".into(),
            previous_secret: None,
            previous_secret_expires_at: None,
            requires_signature: false,
            failing_since: None,
            owner_node: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn ids(d: &Directory, t: &str) -> Vec<Uuid> {
        d.matching(&EventType::parse(t).expect("valid"))
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
            d.upsert(r.clone());
        }
        let mut want = vec![exact.id, prefix.id, star.id, none.id];
        want.sort();
        assert_eq!(ids(&d, "order.created"), want);
        let mut want = vec![prefix.id, star.id, none.id];
        want.sort();
        assert_eq!(ids(&d, "order.item.added"), want);
    }

    #[test]
    fn upsert_reindexes_and_remove_forgets() {
        let d = Directory::default();
        let mut r = row(&["a.b"]);
        d.upsert(r.clone());
        r.event_types = vec!["c.d".into()];
        d.upsert(r.clone());
        assert!(ids(&d, "a.b").is_empty());
        assert_eq!(ids(&d, "c.d"), vec![r.id]);
        d.remove(r.id);
        assert!(ids(&d, "c.d").is_empty());
        assert!(d.is_empty());
    }
}
