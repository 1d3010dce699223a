//! The event-type catalog in memory: every type with its compiled JSON Schema, so checking a
//! payload ([`Catalog::validate`]) or a subscription's patterns ([`Catalog::check_patterns`])
//! costs no query. The copy is checked against Postgres at most every [`REFRESH_EVERY`]
//! (a cheap `(count, sum of versions)` query), reloaded when that changed, and reloaded at
//! once by [`Catalog::reload`] after a change on this node. Schemas are compiled once per
//! type version.
//!
//! Schemas are compiled by the `jsonschema` crate (draft from `$schema`, 2020-12 by default)
//! without its HTTP or file resolvers: a `$ref` outside the schema is refused when the
//! schema is stored, and checking a payload never touches the network or the disk.
//!
//! Must never happen: a payload checked against a schema that failed to compile (such a
//! type is treated as having no schema, and logged); an ingest waiting on Postgres more than
//! once a second for the catalog.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonschema::Validator;
use serde_json::Value;
use sqlx::PgPool;

use crate::db::event_types::{self, EventTypeRow};

/// How stale the in-memory copy may get before the next use checks Postgres.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// The longest error message kept from the schema validator.
const MAX_MESSAGE: usize = 300;

/// The catalog's settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogConfig {
    /// `COURIER_VALIDATE_PAYLOADS`: check payloads of types that have a schema.
    pub validate_payloads: bool,
    /// `COURIER_ENFORCE_CATALOG`: subscriptions may name only known types.
    pub enforce: bool,
}

/// Why a payload does not match its type's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {})", if path.is_empty() { "the payload's root" } else { path })]
pub struct SchemaViolation {
    /// JSON Pointer of the failing value in the payload (`""` = the whole payload).
    pub path: String,
    pub message: String,
}

/// Compiles a JSON Schema; the error says what is wrong with it.
pub fn compile(schema: &Value) -> Result<Validator, String> {
    if !schema.is_object() && !schema.is_boolean() {
        return Err("a JSON Schema must be an object (or true/false)".into());
    }
    jsonschema::options()
        .with_draft(draft_of(schema))
        .build(schema)
        .map_err(|e| truncate(e.to_string()))
}

fn draft_of(schema: &Value) -> jsonschema::Draft {
    use jsonschema::Draft;
    match schema.get("$schema").and_then(Value::as_str) {
        Some(s) if s.contains("draft-04") => Draft::Draft4,
        Some(s) if s.contains("draft-06") => Draft::Draft6,
        Some(s) if s.contains("draft-07") => Draft::Draft7,
        Some(s) if s.contains("2019-09") => Draft::Draft201909,
        _ => Draft::Draft202012,
    }
}

/// The first way `instance` fails `validator`, if any.
pub fn first_violation(validator: &Validator, instance: &Value) -> Option<SchemaViolation> {
    validator
        .iter_errors(instance)
        .next()
        .map(|e| SchemaViolation {
            path: e.instance_path().to_string(),
            message: truncate(e.to_string()),
        })
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

struct Entry {
    version: i32,
    validator: Option<Arc<Validator>>,
}

#[derive(Default)]
struct Types {
    fingerprint: (i64, i64),
    entries: HashMap<String, Entry>,
}

impl Types {
    /// Builds from rows, reusing the compiled schemas of unchanged versions.
    fn build(rows: Vec<EventTypeRow>, fingerprint: (i64, i64), previous: &Types) -> Self {
        let entries = rows
            .into_iter()
            .map(|row| {
                let reused = previous
                    .entries
                    .get(&row.name)
                    .filter(|e| e.version == row.version)
                    .map(|e| e.validator.clone());
                let validator = reused.unwrap_or_else(|| compile_stored(&row));
                let entry = Entry {
                    version: row.version,
                    validator,
                };
                (row.name, entry)
            })
            .collect();
        Self {
            fingerprint,
            entries,
        }
    }

    fn knows(&self, pattern: &str) -> bool {
        if pattern == "*" {
            return true;
        }
        match pattern.strip_suffix('*') {
            Some(prefix) => self.entries.keys().any(|name| name.starts_with(prefix)),
            None => self.entries.contains_key(pattern),
        }
    }
}

fn compile_stored(row: &EventTypeRow) -> Option<Arc<Validator>> {
    let schema = row.schema.as_ref()?;
    match compile(&schema.0) {
        Ok(v) => Some(Arc::new(v)),
        Err(e) => {
            tracing::error!(event_type = %row.name, error = %e, "stored schema does not compile; not checking payloads of this type");
            None
        }
    }
}

/// The shared in-memory catalog (one per process; cheap to share behind an `Arc`).
pub struct Catalog {
    pool: PgPool,
    config: CatalogConfig,
    types: RwLock<Arc<Types>>,
    checked_at: RwLock<Option<Instant>>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("config", &self.config)
            .finish()
    }
}

impl Catalog {
    /// An empty catalog that loads itself from Postgres on first use.
    pub fn new(pool: PgPool, config: CatalogConfig) -> Self {
        Self {
            pool,
            config,
            types: RwLock::new(Arc::new(Types::default())),
            checked_at: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    pub fn config(&self) -> CatalogConfig {
        self.config
    }

    /// Checks `payload` (JSON text) against `event_type`'s schema. `Ok` when validation is
    /// off, the type is unknown or has no schema.
    pub async fn validate(&self, event_type: &str, payload: &str) -> Result<(), SchemaViolation> {
        if !self.config.validate_payloads {
            return Ok(());
        }
        let types = self.current().await;
        let Some(validator) = types
            .entries
            .get(event_type)
            .and_then(|e| e.validator.clone())
        else {
            return Ok(());
        };
        let instance: Value = serde_json::from_str(payload).map_err(|e| SchemaViolation {
            path: String::new(),
            message: format!("the payload is not JSON: {e}"),
        })?;
        match first_violation(&validator, &instance) {
            Some(v) => Err(v),
            None => Ok(()),
        }
    }

    /// Whether a subscription pattern names something in the catalog: `*` always; `order.*`
    /// when some type starts with `order.`; an exact type when it is listed (deprecated
    /// types count).
    pub async fn knows(&self, pattern: &str) -> bool {
        self.current().await.knows(pattern)
    }

    /// With `COURIER_ENFORCE_CATALOG`, the first pattern the catalog does not know, as an
    /// error message; always `Ok` when the setting is off.
    pub async fn check_patterns(&self, patterns: &[&str]) -> Result<(), String> {
        if !self.config.enforce {
            return Ok(());
        }
        let types = self.current().await;
        match patterns.iter().find(|p| !types.knows(p)) {
            Some(p) => Err(format!(
                "event type {p:?} is not in the catalog (COURIER_ENFORCE_CATALOG is on): \
                 add it with POST /event-types first"
            )),
            None => Ok(()),
        }
    }

    /// Reloads from Postgres now (after a change made on this node).
    pub async fn reload(&self) -> Result<(), sqlx::Error> {
        let _guard = self.refresh.lock().await;
        self.load(true).await
    }

    /// The copy in memory, checked against Postgres first when it is older than
    /// [`REFRESH_EVERY`]. When Postgres cannot be reached the stale copy is used.
    async fn current(&self) -> Arc<Types> {
        if self.is_fresh() {
            return self.snapshot();
        }
        let _guard = self.refresh.lock().await;
        if !self.is_fresh()
            && let Err(e) = self.load(false).await
        {
            tracing::warn!(error = %e, "could not refresh the event-type catalog; using the copy in memory");
            self.mark_checked();
        }
        self.snapshot()
    }

    async fn load(&self, force: bool) -> Result<(), sqlx::Error> {
        let fingerprint = event_types::fingerprint(&self.pool).await?;
        let previous = self.snapshot();
        if force || fingerprint != previous.fingerprint || self.never_loaded() {
            let rows = event_types::all(&self.pool).await?;
            let types = Types::build(rows, fingerprint, &previous);
            if let Ok(mut slot) = self.types.write() {
                *slot = Arc::new(types);
            }
        }
        self.mark_checked();
        Ok(())
    }

    fn snapshot(&self) -> Arc<Types> {
        self.types
            .read()
            .map(|t| t.clone())
            .unwrap_or_else(|_| Arc::new(Types::default()))
    }

    fn is_fresh(&self) -> bool {
        self.checked_at
            .read()
            .ok()
            .and_then(|t| *t)
            .is_some_and(|t| t.elapsed() < REFRESH_EVERY)
    }

    fn never_loaded(&self) -> bool {
        self.checked_at.read().ok().is_some_and(|t| t.is_none())
    }

    fn mark_checked(&self) {
        if let Ok(mut t) = self.checked_at.write() {
            *t = Some(Instant::now());
        }
    }
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
