//! Black-box HTTP tests: each test spawns Courier on port 0 with its own UUID-named
//! Postgres database and Redis key prefix, and talks to it over real HTTP.

mod api_keys;
mod applications;
mod bad_inputs;
mod dashboard;
mod delivery;
mod docs_and_health;
mod event_types;
mod explorer;
mod flow;
mod ingest;
mod keyring;
mod nodes;
mod nul_bytes;
mod operations;
mod portal;
mod receiver;
mod sessions;
mod startup;
mod subscriptions;
mod support;
mod tenancy;
