//! The hostile-peer suite (issue 9, "no peer can hurt another"): receivers that misbehave
//! at the byte level and producers that send hostile bodies and bytes, each beside ordinary
//! traffic, plus the races and bounds behind them (retention against a retry, the sweeper
//! against a huge backlog, Redis retry entries, the ingest bound, a Postgres outage,
//! duplicate counting). Every test proves the ordinary traffic is committed, delivered and
//! recorded, and that nothing is left unfinished.
//!
//! The harnesses are shared with the other suites: `support` and `receiver` from
//! `tests/api` (Courier in process), `harness` and `postgres` from `tests/faults` (Courier as a
//! child process, private Postgres and Redis).

#[allow(dead_code)]
#[path = "../faults/harness.rs"]
mod harness;
#[path = "../faults/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "../api/receiver.rs"]
mod receiver;
#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

mod batches;
mod housekeeping;
mod peers;
mod pressure;
mod producers;
mod receivers;
mod traffic;
mod wire;
