//! One cluster: the network, Postgres, Redis, the receiver, three nodes, the load
//! subscriptions and the probe subscriptions the change checks use. Fields drop in order:
//! nodes first, the network last (its teardown kills whatever still runs inside it).

use std::collections::HashMap;
use std::fs::File;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::api::{self, Sub};
use crate::infra::{Node, Postgres, Redis, out_dir};
use crate::net::{self, Net};
use crate::receiver::Receiver;
use crate::{leases, load};

pub const NODES: usize = 3;
const LOAD_SUBSCRIPTIONS: usize = 30;
const PROBES: usize = 3;

pub struct Cluster {
    pub nodes: Vec<Node>,
    pub redis: Redis,
    pub db: PgPool,
    pub rx: Receiver,
    pub target: String,
    /// Load subscriptions (the loader's), then probes, then any made later.
    pub subs: Vec<Sub>,
    pub probes: Vec<Sub>,
    _pg: Postgres,
    pub net: Net,
    _lock: File,
}

/// One cluster at a time on this machine per target directory (tests of this binary may be
/// run in parallel by the test runner; two clusters would share two cores).
fn lock() -> File {
    let f = File::create(out_dir().join("cluster.lock")).expect("lock file");
    f.lock().expect("cluster lock");
    f
}

impl Cluster {
    /// Builds the cluster for the test `name` (once no other cluster runs), heading its
    /// lines in the report.
    pub async fn start(name: &str) -> Self {
        let lock = lock();
        crate::report(&format!("== {name} ({})", chrono::Utc::now().to_rfc3339()));
        let net = Net::create(NODES);
        let pg = Postgres::start(&net);
        let redis = Redis::start(&net);
        let rx = Receiver::new(30);
        let target = rx.serve(net.listen_in_infra(net::RECEIVER));
        let url = pg.url("courier");
        let db = courier_actors::db::connect_and_migrate(&url, 4)
            .await
            .expect("private postgres migrates");
        leases::install(&db).await;
        let prefix = format!("courier_cluster:{}:", net.id);
        let mut nodes: Vec<Node> = (1..=NODES)
            .map(|k| Node::new(&net, k, &url, &redis.url(), &prefix))
            .collect();
        for n in &mut nodes {
            n.start().await;
        }
        let mut c = Self {
            nodes,
            redis,
            db,
            rx,
            target,
            subs: Vec::new(),
            probes: Vec::new(),
            _pg: pg,
            net,
            _lock: lock,
        };
        c.create_subscriptions().await;
        c.wait_balanced(Duration::from_secs(30))
            .await
            .expect("three nodes share the shards");
        c
    }

    async fn create_subscriptions(&mut self) {
        let base = self.nodes[0].base();
        for i in 0..LOAD_SUBSCRIPTIONS {
            let s = api::create(&base, i, &self.target, &load::event_types(i)).await;
            self.subs.push(s);
        }
        for i in 0..PROBES {
            let index = LOAD_SUBSCRIPTIONS + i;
            let s = api::create(&base, index, &self.target, &["probe.v0".to_owned()]).await;
            self.probes.push(s);
        }
    }

    /// Creates one more subscription (on node `k`) taking `event_types`.
    pub async fn add_subscription(&mut self, k: usize, event_types: &[String]) -> Sub {
        let index = LOAD_SUBSCRIPTIONS + PROBES + 100 + self.subs.len();
        let s = api::create(&self.node(k).base(), index, &self.target, event_types).await;
        self.subs.push(s.clone());
        s
    }

    pub fn node(&self, k: usize) -> &Node {
        &self.nodes[k - 1]
    }

    pub fn node_mut(&mut self, k: usize) -> &mut Node {
        &mut self.nodes[k - 1]
    }

    pub fn bases(&self) -> Vec<String> {
        self.nodes.iter().map(Node::base).collect()
    }

    /// Shard of each receiver path index.
    pub fn shards(&self) -> HashMap<usize, u16> {
        self.subs
            .iter()
            .chain(&self.probes)
            .map(|s| (s.index, s.shard))
            .collect()
    }

    /// Node id for a source address at the receiver.
    pub fn node_of(&self, ip: std::net::IpAddr) -> Option<String> {
        self.nodes
            .iter()
            .find(|n| std::net::IpAddr::V4(n.ip) == ip)
            .map(|n| n.node_id.clone())
    }

    /// Waits until every node holds its fair share (at most 22 of 64, all 64 held); returns how long it took.
    pub async fn wait_balanced(&self, within: Duration) -> Result<Duration, String> {
        let t = Instant::now();
        loop {
            let counts = leases::counts(&self.db).await;
            // At most ceil(64 / 3) = 22 each, every shard held: 22 + 22 + 20 at worst.
            let fair = counts.values().sum::<i64>() == 64
                && self.nodes.iter().all(|n| {
                    counts
                        .get(&n.node_id)
                        .is_some_and(|c| (20..=22).contains(c))
                });
            if fair {
                return Ok(t.elapsed());
            }
            if t.elapsed() > within {
                return Err(format!("not balanced after {within:?}: {counts:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Shards `node` holds now.
    pub async fn shards_of(&self, node: &str) -> Vec<i32> {
        sqlx::query_scalar(
            "SELECT shard FROM shards WHERE owner = $1 AND lease_until > now() ORDER BY shard",
        )
        .bind(node)
        .fetch_all(&self.db)
        .await
        .unwrap_or_default()
    }

    /// Sum of `courier_possible_duplicates_total` over the nodes that answer.
    pub async fn possible_duplicates(&self) -> f64 {
        let mut total = 0.0;
        for n in &self.nodes {
            total += api::counter(&n.base(), "courier_possible_duplicates_total").await;
        }
        total
    }
}
