//! # courier
//!
//! The HTTP side of Courier, a webhook delivery engine. `main` is thin: it reads
//! [`settings`], sets up [`telemetry`], builds the [`startup::Application`] (HTTP server +
//! the actor system from `courier-actors`) and waits for a signal.
//!
//! - [`routes`]: one module per resource; they parse at the edge and call `courier_actors`.
//! - [`error`]: `ApiError`, the only error a route returns (status + stable `code`).
//! - [`auth`]: the API key extractor. [`openapi`]: the OpenAPI document.

pub mod auth;
pub mod error;
pub mod observability;
pub mod openapi;
pub mod openapi_contract;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tenant;
