//! The multi-node fault suite: three Courier processes, each in its own network namespace,
//! over one private Postgres and one private Redis on a bridge the test builds
//! ([`net`]), under steady traffic ([`load`]). Each scenario ([`scenario`]) injects one
//! fault — `kill -9`, SIGSTOP past the lease, a node cut off from Redis, a node cut off from
//! Postgres, Redis itself stopped — and checks that nothing accepted is lost, that no request
//! leaves a node without its lease (against the exact lease history, [`leases`]), that
//! duplicates are only attempts at the fault, that ownership moves within
//! `COURIER_NODE_TTL` + 2 s, and that a change made during the fault reaches every node
//! within 5 s of its end. [`extras`] covers a second process with a live node's id and resume
//! racing ingest. One line per scenario goes to `target/tmp/cluster/report.txt`.
//!
//! Needs root (namespaces, a private Postgres run as `postgres`); without `ip netns` it says
//! so in one line and passes.

mod api;
mod checks;
mod cluster;
mod debug;
mod extras;
mod infra;
mod leases;
mod load;
mod net;
mod probe;
mod receiver;
mod scenario;

use cluster::Cluster;
use scenario::Kind;

/// Appends a line to `target/tmp/cluster/report.txt` and prints it.
pub fn report(line: &str) {
    use std::io::Write;
    println!("{line}");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(infra::out_dir().join("report.txt"))
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Whether the suite can run here; says why not, once.
fn runnable(test: &str) -> bool {
    match net::unavailable() {
        Some(why) => {
            println!("cluster suite skipped: `ip netns` is unavailable ({why})");
            false
        }
        None => {
            println!("cluster suite: {test}");
            true
        }
    }
}

fn finish(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[actix_web::test]
async fn three_nodes_survive_kill_stop_and_partitions_under_steady_traffic() {
    if !runnable("node faults") {
        return;
    }
    let mut c = Cluster::start("node faults").await;
    let mut failures = Vec::new();
    let plan = [
        (Kind::Kill, 1),
        (Kind::Stop, 2),
        (Kind::CutRedis, 3),
        (Kind::CutPostgres, 1),
    ];
    for (version, (kind, k)) in (1..).zip(plan) {
        failures.extend(scenario::run(&mut c, kind, k, version).await);
    }
    finish(failures);
}

#[actix_web::test]
async fn a_duplicate_node_id_is_refused_a_redis_outage_and_resume_races_lose_nothing() {
    if !runnable("identity, Redis outage, resume race") {
        return;
    }
    let mut c = Cluster::start("identity, Redis outage, resume race").await;
    let mut failures = extras::same_node_id_is_refused(&c).await;
    failures.extend(scenario::run(&mut c, Kind::RedisDown, 2, 1).await);
    failures.extend(extras::resume_racing_ingest(&mut c).await);
    finish(failures);
}
