//! The races and refusals the issue lists besides the node faults: a second process with a
//! live node's id refuses to start, and resume racing ingest on every node never leaves a
//! delivery held on an active subscription.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::join_all;

use crate::api::{self, Sub};
use crate::cluster::{Cluster, NODES};
use crate::infra::out_dir;
use crate::report;

/// Starts a process as `node1` in node 2's namespace (its own port): it must exit with code 1
/// naming `COURIER_NODE_ID`, and node 1 must keep every lease it held.
pub async fn same_node_id_is_refused(c: &Cluster) -> Vec<String> {
    let mut failures = Vec::new();
    let before = c.shards_of("node1").await;
    let from = Utc::now();
    let log = out_dir().join(format!("impostor-{}.log", c.net.id));
    let bind = format!("{}:8001", c.node(2).ip);
    let mut child = c.node(2).spawn_with(
        &[("COURIER_NODE_ID", "node1"), ("COURIER_BIND", &bind)],
        &log,
    );
    let started = Instant::now();
    let mut code = None;
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(status)) = child.try_wait() {
            code = Some(status.code());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if code.is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let last = text.lines().last().unwrap_or("").to_owned();
    let after = c.shards_of("node1").await;
    let tenures = crate::leases::tenures(&c.db).await;
    let moved = tenures
        .values()
        .filter(|l| l.iter().any(|t| t.start > from))
        .count();
    if code != Some(Some(1)) {
        failures.push(format!(
            "the second node1 did not exit with code 1: {code:?}; log: {text}"
        ));
    }
    if !text.contains("COURIER_NODE_ID") {
        failures.push(format!("its message does not name COURIER_NODE_ID: {text}"));
    }
    if before != after || moved > 0 {
        failures.push(format!(
            "node1's leases changed: {before:?} -> {after:?}, {moved} shards changed hands"
        ));
    }
    report(&format!(
        "second process as node1: exit {code:?} after {} ms, said {last:?} | node1 kept its {} shards, {moved} changed hands{}",
        started.elapsed().as_millis(),
        after.len(),
        if failures.is_empty() {
            String::new()
        } else {
            format!(" | FAILED: {}", failures.join("; "))
        }
    ));
    failures
}

/// Ingests to `sub` through every node, `workers` at a time each, until `stop`; returns the
/// deliveries answered 202 (accepted or held).
async fn ingest_until(
    bases: Vec<String>,
    sub: Sub,
    stop: Arc<AtomicBool>,
) -> (HashSet<String>, usize, Vec<String>) {
    let workers = bases
        .iter()
        .flat_map(|b| std::iter::repeat_n(b.clone(), 3))
        .map(|base| {
            let (sub, stop) = (sub.clone(), stop.clone());
            async move {
                let client = api::client(Duration::from_secs(5));
                let (mut got, mut held, mut bad) = (Vec::new(), 0, Vec::new());
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let body = format!("{{\"n\":{n}}}");
                    match api::ingest(&client, &base, &sub, &sub.secret, "race.x", body.as_bytes())
                        .await
                    {
                        Ok((202, v)) => {
                            held += usize::from(v["status"] == "paused");
                            got.extend(api::deliveries_of(&v).into_iter().map(|(d, _)| d));
                        }
                        Ok((s, v)) => bad.push(format!("{s} {v}")),
                        Err(e) => bad.push(e),
                    }
                }
                (got, held, bad)
            }
        });
    let mut all = (HashSet::new(), 0, Vec::new());
    for (got, held, bad) in join_all(workers).await {
        all.0.extend(got);
        all.1 += held;
        all.2.extend(bad);
    }
    all
}

async fn set_status(c: &Cluster, k: usize, sub: &Sub, action: &str) -> Result<(), String> {
    let client = api::client(Duration::from_secs(5));
    match api::call(
        &client,
        &c.node(k).base(),
        "POST",
        &format!("/subscriptions/{}/{action}", sub.id),
        None,
    )
    .await
    {
        Ok((200, _)) => Ok(()),
        other => Err(format!("{action} via node{k}: {other:?}")),
    }
}

/// Pauses and resumes one subscription ten times, each time through another node, while all
/// three ingest to it; afterwards none of its deliveries is held and all arrived.
pub async fn resume_racing_ingest(c: &mut Cluster) -> Vec<String> {
    let mut failures = Vec::new();
    let sub = c.add_subscription(1, &["race.*".to_owned()]).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let ingest = actix_web::rt::spawn(ingest_until(c.bases(), sub.clone(), stop.clone()));
    for round in 0..10 {
        let (p, r) = (round % NODES + 1, (round + 1) % NODES + 1);
        if let Err(e) = set_status(c, p, &sub, "pause").await {
            failures.push(e);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Err(e) = set_status(c, r, &sub, "resume").await {
            failures.push(e);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let (accepted, held, bad) = ingest.await.unwrap_or_default();
    let missing = c.rx.wait_for(&accepted, Duration::from_secs(30)).await;
    let still_held: Vec<(uuid::Uuid,)> = sqlx::query_as(
        "SELECT id FROM deliveries WHERE subscription_id = $1 AND status = 'paused'",
    )
    .bind(sub.id)
    .fetch_all(&c.db)
    .await
    .unwrap_or_default();
    if !still_held.is_empty() {
        failures.push(format!(
            "{} deliveries still paused on an active subscription: {:?}",
            still_held.len(),
            &still_held[..still_held.len().min(5)]
        ));
    }
    if !missing.is_empty() {
        failures.push(format!(
            "{} accepted deliveries never arrived",
            missing.len()
        ));
    }
    if !bad.is_empty() {
        failures.push(format!(
            "{} ingests not answered 202: {:?}",
            bad.len(),
            &bad[..bad.len().min(3)]
        ));
    }
    if held == 0 {
        failures.push("no ingest raced a pause (none was held)".into());
    }
    report(&format!(
        "resume racing ingest (10 pause/resume rounds over 3 nodes): accepted {} ({held} held while paused) | delivered {} | still paused {} | not answered 202 {}{}",
        accepted.len(),
        accepted.len() - missing.len(),
        still_held.len(),
        bad.len(),
        if failures.is_empty() {
            String::new()
        } else {
            format!(" | FAILED: {}", failures.join("; "))
        }
    ));
    failures
}
