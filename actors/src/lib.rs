//! # courier-actors
//!
//! Courier's delivery engine: the actor system and everything it stands on.
//!
//! - [`domain`], [`headers`], [`units`]: values parsed at the edge.
//! - [`signing`], [`retry`], [`ssrf`]: pure cores (signatures, retry timing, the SSRF guard).
//! - [`db`]: all SQL. [`cache`]: Redis and the subscription cache.
//! - [`supervisor`] and the actors it runs; [`messages`] lists what they say to each other.
//! - [`engine`]: the handle the HTTP server holds to start, use and stop all of it.

pub mod cache;
pub mod db;
pub mod domain;
pub mod engine;
pub mod headers;
pub mod messages;
pub mod retry;
pub mod signing;
pub mod ssrf;
pub mod supervisor;
pub mod units;
