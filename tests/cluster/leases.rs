//! The exact history of every shard lease, recorded by a trigger the suite adds to its own
//! database (`test_lease_log`: every change to a `shards` row, stamped with
//! `clock_timestamp()`), read back as tenures: who held which shard at which epoch, from its
//! acquisition until it was released, taken over or expired.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

const INSTALL: &[&str] = &[
    "CREATE TABLE test_lease_log (at timestamptz NOT NULL DEFAULT clock_timestamp(), \
     shard integer NOT NULL, owner text, epoch bigint NOT NULL, lease_until timestamptz NOT NULL, \
     acquired_at timestamptz)",
    "CREATE FUNCTION test_log_lease() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
     INSERT INTO test_lease_log (shard, owner, epoch, lease_until, acquired_at) \
     VALUES (NEW.shard, NEW.owner, NEW.epoch, NEW.lease_until, NEW.acquired_at); RETURN NEW; END $$",
    "CREATE TRIGGER test_lease_log AFTER UPDATE ON shards FOR EACH ROW EXECUTE FUNCTION test_log_lease()",
    "INSERT INTO test_lease_log (shard, owner, epoch, lease_until, acquired_at) \
     SELECT shard, owner, epoch, lease_until, acquired_at FROM shards",
];

/// Adds the lease log to a migrated database (before any node starts).
pub async fn install(db: &PgPool) {
    for sql in INSTALL {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(db)
            .await
            .expect("lease log installs");
    }
}

/// One node's hold on one shard at one epoch.
#[derive(Debug, Clone)]
pub struct Tenure {
    pub owner: String,
    pub epoch: i64,
    pub start: DateTime<Utc>,
    /// When it stopped counting: handed back, or its lease ran out.
    pub end: DateTime<Utc>,
    /// Handed back (rather than run out or taken over).
    pub released: bool,
}

impl Tenure {
    pub fn covers(&self, at: DateTime<Utc>, slack_ms: i64) -> bool {
        self.start <= at && at <= self.end + chrono::Duration::milliseconds(slack_ms)
    }
}

type Row = (
    DateTime<Utc>,
    i32,
    Option<String>,
    i64,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// Every tenure so far, by shard, in epoch order.
pub async fn tenures(db: &PgPool) -> HashMap<u16, Vec<Tenure>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT at, shard, owner, epoch, NULLIF(lease_until, '-infinity'), acquired_at \
         FROM test_lease_log ORDER BY shard, epoch, at",
    )
    .fetch_all(db)
    .await
    .expect("lease log reads");
    let mut out: HashMap<u16, Vec<Tenure>> = HashMap::new();
    for (at, shard, owner, epoch, until, acquired) in rows {
        let (Some(owner), Ok(shard)) = (owner, u16::try_from(shard)) else {
            continue;
        };
        let list = out.entry(shard).or_default();
        let same = list.last().is_some_and(|t| t.epoch == epoch);
        if !same {
            list.push(Tenure {
                owner,
                epoch,
                start: acquired.unwrap_or(at),
                end: until.unwrap_or(at),
                released: false,
            });
            continue;
        }
        if let Some(t) = list.last_mut() {
            // A release (the lease ending at once, or -infinity) ends it when it happened; a
            // renewal moves its end.
            match until {
                Some(u) if u > at => t.end = t.end.max(u),
                _ => {
                    t.end = t.end.min(at);
                    t.released = true;
                }
            }
        }
    }
    for list in out.values_mut() {
        for i in 1..list.len() {
            let next = list[i].start;
            let prev = &mut list[i - 1];
            prev.end = prev.end.min(next);
        }
    }
    out
}

/// The tenure of `owner` on `shard` covering `at`, if any.
pub fn held_by<'a>(
    tenures: &'a HashMap<u16, Vec<Tenure>>,
    shard: u16,
    owner: &str,
    at: DateTime<Utc>,
    slack_ms: i64,
) -> Option<&'a Tenure> {
    tenures
        .get(&shard)?
        .iter()
        .find(|t| t.owner == owner && t.covers(at, slack_ms))
}

/// How many live leases each node holds now (by Postgres' clock).
pub async fn counts(db: &PgPool) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(
        "SELECT owner, count(*) FROM shards WHERE lease_until > now() AND owner IS NOT NULL GROUP BY owner",
    )
    .fetch_all(db)
    .await
    .unwrap_or_default()
    .into_iter()
    .collect()
}
