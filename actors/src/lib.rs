//! # courier-actors
//!
//! Courier's delivery engine: the actor system and everything it stands on.
//!
//! - [`domain`], [`headers`], [`units`]: values parsed at the edge.
//! - [`signing`], [`retry`], [`ssrf`]: pure cores (signatures, retry timing, the SSRF guard).
//! - [`db`]: all SQL. [`cache`]: Redis and the subscription cache. [`changes`]: the
//!   subscription-change feed between nodes.
//! - [`supervisor`] → [`subscription`] → [`delivery`]: the actor tree that sends; beside it
//!   [`persistence`] (batched writes, group-committed ingests) and [`retention`].
//!   [`messages`] lists what they say to each other; [`directory`] and [`retry_store`] are
//!   the in-memory and Redis views they share.
//! - [`engine`]: the handle the HTTP server holds to start, use and stop all of it.
//! - [`access`] (API keys, sessions), [`crypto`] (encryption at rest), [`catalog`] (event
//!   types and their schemas): tenancy's building blocks, independent of the engine.

pub mod access;
pub mod cache;
pub mod catalog;
pub mod changes;
pub mod crypto;
pub mod db;
pub mod delivery;
pub mod directory;
pub mod domain;
pub mod engine;
pub mod headers;
pub mod job;
pub mod messages;
pub mod persistence;
pub mod retention;
pub mod retry;
pub mod retry_store;
pub mod signing;
pub mod ssrf;
pub mod subscription;
pub mod supervisor;
pub mod units;
