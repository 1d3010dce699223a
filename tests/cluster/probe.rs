//! Watching a subscription change reach every node, through behaviour: a probe subscription's
//! event types are changed to `probe.v<n>` on one node, and each node is asked (a signed
//! ingest of a `probe.v<n>` event) until it answers `accepted` instead of `filtered` — that
//! node's directory has the change.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde_json::json;

use crate::api::{self, Sub};

/// When each node first showed the change (`None`: not before the deadline), and the
/// deliveries the accepted probes created.
#[derive(Debug, Default)]
pub struct Seen {
    pub at: Vec<(usize, Option<DateTime<Utc>>)>,
    pub deliveries: Vec<String>,
}

impl Seen {
    /// The latest arrival relative to `since`, in ms (`None` if a node never showed it).
    pub fn latest_after(&self, since: DateTime<Utc>) -> Option<i64> {
        self.at
            .iter()
            .map(|(_, t)| t.map(|t| (t - since).num_milliseconds()))
            .try_fold(i64::MIN, |m, t| t.map(|t| m.max(t)))
    }

    pub fn describe(&self, since: DateTime<Utc>) -> String {
        self.at
            .iter()
            .map(|(k, t)| match t {
                Some(t) => format!("node{k} {:+}ms", (*t - since).num_milliseconds()),
                None => format!("node{k} never"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Sets `probe`'s event types to `probe.v<version>` through `base`, trying again until it
/// is answered 200 (at most `within`); returns when the answer came.
pub async fn change(
    base: &str,
    probe: &Sub,
    version: u32,
    within: Duration,
) -> Result<DateTime<Utc>, String> {
    let client = api::client(Duration::from_secs(3));
    let body = json!({"event_types": [format!("probe.v{version}")]});
    let deadline = Instant::now() + within;
    let mut last = String::new();
    while Instant::now() < deadline {
        match api::call(
            &client,
            base,
            "PATCH",
            &format!("/subscriptions/{}", probe.id),
            Some(body.clone()),
        )
        .await
        {
            Ok((200, _)) => return Ok(Utc::now()),
            Ok((s, v)) => last = format!("{s} {v}"),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "PATCH via {base} not answered 200 within {within:?}: {last}"
    ))
}

/// Asks every node in `nodes` (index, base) until it shows `probe.v<version>` or `deadline`.
pub async fn observe(
    nodes: &[(usize, String)],
    probe: &Sub,
    version: u32,
    deadline: Instant,
) -> Seen {
    let polls = nodes.iter().map(|(k, base)| {
        let (k, base, probe) = (*k, base.clone(), probe.clone());
        async move { (k, poll(&base, &probe, version, deadline).await) }
    });
    let mut seen = Seen::default();
    for (k, (at, deliveries)) in join_all(polls).await {
        seen.at.push((k, at));
        seen.deliveries.extend(deliveries);
    }
    seen
}

async fn poll(
    base: &str,
    probe: &Sub,
    version: u32,
    deadline: Instant,
) -> (Option<DateTime<Utc>>, Vec<String>) {
    let client = api::client(Duration::from_secs(1));
    let event = format!("probe.v{version}");
    let mut deliveries = Vec::new();
    while Instant::now() < deadline {
        let body = json!({"probe": version}).to_string();
        if let Ok((202, v)) =
            api::ingest(&client, base, probe, &probe.secret, &event, body.as_bytes()).await
        {
            let asked = Utc::now();
            let got = api::deliveries_of(&v);
            if !got.is_empty() {
                deliveries.extend(got.into_iter().map(|(d, _)| d));
                return (Some(asked), deliveries);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (None, deliveries)
}
