//! # courier-actors
//!
//! Courier's delivery engine: the actor system and everything it stands on.
//!
//! - [`domain`], [`headers`], [`units`]: values parsed at the edge.
//! - [`signing`], [`retry`], [`ssrf`], [`answer`], [`payload`]: pure cores (signatures, retry timing, the
//!   SSRF guard, storing what receivers answer, JSON shape limits). [`clock`]: injectable time.
//! - [`db`]: all SQL. [`cache`]: Redis and the version-keyed subscription cache.
//! - [`lifecycle`]: every subscription change, one transaction each, into the change log;
//!   [`directory`]: each node's read model of that log; [`feed`]: how nodes wake each other
//!   and hand work over.
//! - [`ownership`]: shard leases with epochs — which node may send for which subscription.
//! - [`supervisor`] → [`subscription`] (a shell around a pure decision core) → [`delivery`]:
//!   the actor tree that sends; beside it [`persistence`] (group-committed ingests, fenced
//!   outcome batches) and [`retention`]. [`messages`] lists what they say to each other;
//!   [`retry_store`] is the Redis schedule and in-flight marks.
//! - [`capacity`]: the node's attempt permits, shared fairly among subscriptions;
//!   [`health_reads`]: starting actors' health reads, batched.
//! - [`engine`]: the handle the HTTP server holds to start, use and stop all of it.
//! - [`access`] (API keys, sessions), [`crypto`] (encryption at rest), [`catalog`] (event
//!   types and their schemas): tenancy's building blocks, independent of the engine.

pub mod access;
pub mod answer;
pub mod cache;
pub mod capacity;
pub mod catalog;
pub mod clock;
pub mod crypto;
pub mod db;
pub mod delivery;
pub mod directory;
pub mod domain;
pub mod engine;
pub mod feed;
pub mod filter;
pub mod headers;
pub mod health_reads;
pub mod job;
pub mod lifecycle;
pub mod messages;
pub mod ops;
pub mod ownership;
pub mod payload;
pub mod persistence;
pub mod retention;
pub mod retry;
pub mod retry_store;
pub mod secrets;
pub mod signing;
pub mod ssrf;
pub mod subscription;
pub mod supervisor;
pub mod units;
