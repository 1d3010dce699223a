//! Settings: one typed struct, read from the environment (and optionally a `KEY=VALUE` file
//! named by `COURIER_CONFIG`, which the environment overrides), validated at start. Every
//! field says what it does; the README's configuration table mirrors this file.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use courier_actors::headers::CredentialHeaders;
use courier_actors::retry::RetrySchedule;
use courier_actors::units::{parse_duration, parse_size};

/// A value that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, for development.
    Pretty,
    /// One JSON object per line, for production log pipelines.
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `COURIER_BIND`: the address the HTTP server listens on (port 0 picks a free port).
    pub bind: String,
    /// `DATABASE_URL`: Postgres; the database is created and migrated at start.
    pub database_url: Secret,
    /// `COURIER_DB_POOL_SIZE`: the most Postgres connections this process opens.
    pub db_pool_size: u32,
    /// `REDIS_URL`: Redis, for the subscription cache and the retry schedule.
    pub redis_url: Secret,
    /// `COURIER_REDIS_PREFIX`: the start of every Redis key, so instances can share a Redis.
    pub redis_prefix: String,
    /// `COURIER_API_KEY`: the bearer token of the management API. Generated when unset.
    pub api_key: Secret,
    /// Whether `api_key` was generated at start (it is then printed once, with a warning).
    pub api_key_generated: bool,
    /// `COURIER_RETRY_SCHEDULE`: delays between attempts; n delays mean n + 1 attempts.
    pub retry_schedule: RetrySchedule,
    /// `COURIER_RETENTION`: how long attempt logs and finished messages are kept.
    pub retention: Duration,
    /// `COURIER_RETENTION_INTERVAL`: how often the retention actor runs.
    pub retention_interval: Duration,
    /// `COURIER_CACHE_TTL`: how long a subscription stays in the Redis cache.
    pub cache_ttl: Duration,
    /// `COURIER_DELIVERY_TIMEOUT`: the default per-attempt timeout (a subscription's
    /// `timeout_ms` overrides it).
    pub delivery_timeout: Duration,
    /// `COURIER_ALLOW_PRIVATE_TARGETS`: deliver to loopback and private addresses (tests, local use).
    pub allow_private_targets: bool,
    /// `COURIER_MAX_BODY`: the largest request body accepted; larger ones get 413.
    pub max_body: usize,
    /// `COURIER_SECRET_OVERLAP`: how long a rotated-out secret keeps signing beside the new one.
    pub secret_overlap: Duration,
    /// `COURIER_DISABLE_AFTER`: a subscription failing every delivery this long is disabled.
    pub disable_after: Duration,
    /// `COURIER_RETRY_AFTER_CAP`: the longest a receiver's `Retry-After` may push a retry.
    pub retry_after_cap: Duration,
    /// `COURIER_IDEMPOTENCY_TTL`: how long an `Idempotency-Key` answer is remembered.
    pub idempotency_ttl: Duration,
    /// `COURIER_SWEEP_INTERVAL`: how often the sweeper looks in Postgres for due deliveries
    /// that no actor holds (lost from Redis, or left by a crash).
    pub sweep_interval: Duration,
    /// `COURIER_NODE_TTL`: how long a node's shard leases last past their last renewal; a node
    /// silent this long loses them, and its successor's higher epoch fences it out.
    pub node_ttl: Duration,
    /// `COURIER_MAX_ATTEMPTS_IN_FLIGHT`: attempts in flight at once on this node, all
    /// subscriptions together (bounds memory when many subscriptions have work at once).
    pub max_attempts_in_flight: usize,
    /// `COURIER_DASHBOARD_DIR`: a built dashboard to serve at `/` instead of the one built into
    /// the binary (for development); unset: the built-in one.
    pub dashboard_dir: Option<PathBuf>,
    /// `COURIER_LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `COURIER_WORKERS`: HTTP worker threads (default: one per core).
    pub workers: usize,
    /// `COURIER_NODE_ID`: this node's name in subscription ownership (default: the host name).
    pub node_id: String,
    /// `COURIER_ENCRYPTION_KEY`: comma-separated base64 32-byte keys that encrypt signing
    /// secrets and credential headers at rest; the first encrypts, all decrypt. Unset: a key
    /// is generated into the database's `encryption_keys` table (with a warning at start).
    pub encryption_key: Option<Secret>,
    /// `COURIER_SESSION_TTL`: lifetime of a browser session from `POST /auth/session`
    /// (fixed from login, not extended by use).
    pub session_ttl: Duration,
    /// `COURIER_SECURE_COOKIES`: always mark the session cookie `Secure` (it is marked
    /// anyway when the request came over https).
    pub secure_cookies: bool,
    /// `COURIER_VALIDATE_PAYLOADS`: check ingested payloads against their type's schema in
    /// the catalog (`422` with the failing path when they do not match).
    pub validate_payloads: bool,
    /// `COURIER_ENFORCE_CATALOG`: subscriptions may only name event types in the catalog.
    pub enforce_catalog: bool,
    /// `COURIER_CREDENTIAL_HEADERS`: header names masked like credentials besides the
    /// built-in ones (`Authorization`, `Cookie`, `*-Token`, `*-Key`, `*-Secret`, ...);
    /// comma-separated, a `*` at the start or end matches anything there.
    pub credential_headers: CredentialHeaders,
    /// `COURIER_OPS_WEBHOOK_URL`: where operational events go, besides the subscriptions of
    /// the `courier-ops` application (kept as one of them, created at start).
    pub ops_webhook_url: Option<courier_actors::domain::TargetUrl>,
    /// `COURIER_FAILING_AFTER`: consecutive failed attempts before `subscription.failing`.
    pub failing_after: i32,
    /// `COURIER_PORTAL_ORIGINS` (who may embed the consumer portal) and the portal's default
    /// brand (`COURIER_PORTAL_NAME`, `COURIER_PORTAL_BRAND_COLOR`, `COURIER_PORTAL_LOGO_URL`).
    pub portal: crate::routes::portal::PortalSettings,
}

/// A setting that could not be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {var}: {message}")]
pub struct SettingsError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError {
        var,
        message: message.into(),
    }
}

/// Reads `KEY=VALUE` lines (blank lines and `#` comments skipped; values may be quoted).
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.trim().trim_matches('"').trim_matches('\'').to_owned(),
            )
        })
        .collect()
}

impl Settings {
    /// From the process environment, over `COURIER_CONFIG`'s file when set.
    pub fn from_env() -> Result<Self, SettingsError> {
        let mut vars: HashMap<String, String> = HashMap::new();
        if let Ok(path) = std::env::var("COURIER_CONFIG") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| err("COURIER_CONFIG", format!("cannot read {path}: {e}")))?;
            vars.extend(parse_env_file(&text));
        }
        vars.extend(std::env::vars());
        Self::from_map(&vars)
    }

    /// From a map of variables; unset ones take their defaults.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let get = |k: &str| {
            vars.get(k)
                .map(String::as_str)
                .filter(|v| !v.trim().is_empty())
        };
        let dur = |var: &'static str, default: &str| {
            parse_duration(get(var).unwrap_or(default)).map_err(|e| err(var, e.0))
        };
        let (api_key, api_key_generated) = match get("COURIER_API_KEY") {
            Some(k) if k.len() < 16 => {
                return Err(err("COURIER_API_KEY", "must be at least 16 characters"));
            }
            Some(k) => (Secret::new(k), false),
            None => (Secret::new(generate_api_key()), true),
        };
        let settings = Self {
            bind: get("COURIER_BIND").unwrap_or("127.0.0.1:8000").to_owned(),
            database_url: Secret::new(
                get("DATABASE_URL").unwrap_or("postgres://postgres@localhost/courier"),
            ),
            db_pool_size: parse_number(
                get("COURIER_DB_POOL_SIZE"),
                "COURIER_DB_POOL_SIZE",
                16,
                1..=1000,
            )?,
            redis_url: Secret::new(get("REDIS_URL").unwrap_or("redis://127.0.0.1:6379")),
            redis_prefix: get("COURIER_REDIS_PREFIX").unwrap_or("courier:").to_owned(),
            api_key,
            api_key_generated,
            retry_schedule: RetrySchedule::parse(
                get("COURIER_RETRY_SCHEDULE").unwrap_or("10s,30s,1m,5m,15m"),
            )
            .map_err(|e| err("COURIER_RETRY_SCHEDULE", e.0))?,
            retention: dur("COURIER_RETENTION", "72h")?,
            retention_interval: dur("COURIER_RETENTION_INTERVAL", "1m")?,
            cache_ttl: dur("COURIER_CACHE_TTL", "10m")?,
            delivery_timeout: dur("COURIER_DELIVERY_TIMEOUT", "10s")?,
            allow_private_targets: parse_bool(
                get("COURIER_ALLOW_PRIVATE_TARGETS"),
                "COURIER_ALLOW_PRIVATE_TARGETS",
            )?,
            max_body: parse_size(get("COURIER_MAX_BODY").unwrap_or("1MiB"))
                .map_err(|e| err("COURIER_MAX_BODY", e.0))?,
            secret_overlap: dur("COURIER_SECRET_OVERLAP", "24h")?,
            disable_after: dur("COURIER_DISABLE_AFTER", "3d")?,
            retry_after_cap: dur("COURIER_RETRY_AFTER_CAP", "1h")?,
            idempotency_ttl: dur("COURIER_IDEMPOTENCY_TTL", "24h")?,
            sweep_interval: dur("COURIER_SWEEP_INTERVAL", "5s")?,
            node_ttl: dur("COURIER_NODE_TTL", "10s")?,
            max_attempts_in_flight: parse_number(
                get("COURIER_MAX_ATTEMPTS_IN_FLIGHT"),
                "COURIER_MAX_ATTEMPTS_IN_FLIGHT",
                1024,
                1..=100_000,
            )?,
            dashboard_dir: get("COURIER_DASHBOARD_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            log_format: parse_log_format(get("COURIER_LOG_FORMAT"))?,
            workers: parse_number(
                get("COURIER_WORKERS"),
                "COURIER_WORKERS",
                default_workers(),
                1..=256,
            )?,
            node_id: get("COURIER_NODE_ID")
                .map(str::to_owned)
                .unwrap_or_else(default_node_id),
            encryption_key: parse_encryption_key(get("COURIER_ENCRYPTION_KEY"))?,
            session_ttl: dur("COURIER_SESSION_TTL", "8h")?,
            secure_cookies: parse_bool(get("COURIER_SECURE_COOKIES"), "COURIER_SECURE_COOKIES")?,
            validate_payloads: parse_bool(
                get("COURIER_VALIDATE_PAYLOADS"),
                "COURIER_VALIDATE_PAYLOADS",
            )?,
            enforce_catalog: parse_bool(get("COURIER_ENFORCE_CATALOG"), "COURIER_ENFORCE_CATALOG")?,
            credential_headers: CredentialHeaders::parse(
                get("COURIER_CREDENTIAL_HEADERS").unwrap_or(""),
            )
            .map_err(|e| err("COURIER_CREDENTIAL_HEADERS", e.0))?,
            ops_webhook_url: get("COURIER_OPS_WEBHOOK_URL")
                .map(courier_actors::domain::TargetUrl::parse)
                .transpose()
                .map_err(|e| err("COURIER_OPS_WEBHOOK_URL", e.0))?,
            failing_after: parse_number(
                get("COURIER_FAILING_AFTER"),
                "COURIER_FAILING_AFTER",
                5,
                1..=10_000,
            )?,
            portal: crate::routes::portal::PortalSettings::from_vars(vars)?,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if self.delivery_timeout.is_zero() || self.delivery_timeout > Duration::from_secs(300) {
            return Err(err(
                "COURIER_DELIVERY_TIMEOUT",
                "must be between 1ms and 5m",
            ));
        }
        if self.retention_interval.is_zero() {
            return Err(err("COURIER_RETENTION_INTERVAL", "must be more than zero"));
        }
        if self.sweep_interval.is_zero() {
            return Err(err("COURIER_SWEEP_INTERVAL", "must be more than zero"));
        }
        if self.node_ttl < Duration::from_millis(200) {
            return Err(err("COURIER_NODE_TTL", "must be at least 200ms"));
        }
        if self.cache_ttl.is_zero() {
            return Err(err("COURIER_CACHE_TTL", "must be more than zero"));
        }
        if self.max_body < 1024 || self.max_body > 64 << 20 {
            return Err(err("COURIER_MAX_BODY", "must be between 1KiB and 64MiB"));
        }
        if self.redis_prefix.len() > 64 || self.redis_prefix.contains(char::is_whitespace) {
            return Err(err(
                "COURIER_REDIS_PREFIX",
                "must be at most 64 characters without spaces",
            ));
        }
        if self.session_ttl < Duration::from_secs(60)
            || self.session_ttl > Duration::from_secs(30 * 86_400)
        {
            return Err(err("COURIER_SESSION_TTL", "must be between 1m and 30d"));
        }
        Ok(())
    }

    /// Risky but legal combinations, logged loudly at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.allow_private_targets {
            w.push("COURIER_ALLOW_PRIVATE_TARGETS=true: deliveries may reach loopback and private networks".into());
        }
        if self.retention < Duration::from_secs(3600) {
            w.push(format!(
                "COURIER_RETENTION is only {:?}: delivery logs vanish quickly",
                self.retention
            ));
        }
        if !self.bind.starts_with("127.")
            && !self.bind.starts_with("localhost")
            && !self.bind.starts_with("[::1]")
        {
            w.push(format!(
                "listening on {} beyond loopback: put TLS in front of it",
                self.bind
            ));
        }
        w
    }
}

/// Checks `COURIER_ENCRYPTION_KEY` (the keys themselves are parsed again into the key ring
/// at start).
fn parse_encryption_key(raw: Option<&str>) -> Result<Option<Secret>, SettingsError> {
    let Some(raw) = raw else { return Ok(None) };
    courier_actors::crypto::parse_keys(raw)
        .map_err(|e| err("COURIER_ENCRYPTION_KEY", e.to_string()))?;
    Ok(Some(Secret::new(raw)))
}

fn parse_bool(raw: Option<&str>, var: &'static str) -> Result<bool, SettingsError> {
    match raw.map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(other) => Err(err(var, format!("{other:?} is not true or false"))),
    }
}

fn parse_number<T>(
    raw: Option<&str>,
    var: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, SettingsError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(raw) = raw else { return Ok(default) };
    let n: T = raw
        .trim()
        .parse()
        .map_err(|_| err(var, format!("{raw:?} is not a whole number")))?;
    if !range.contains(&n) {
        return Err(err(
            var,
            format!("must be between {} and {}", range.start(), range.end()),
        ));
    }
    Ok(n)
}

fn parse_log_format(raw: Option<&str>) -> Result<LogFormat, SettingsError> {
    match raw {
        None | Some("pretty") => Ok(LogFormat::Pretty),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(err(
            "COURIER_LOG_FORMAT",
            format!("{other:?} is not pretty or json"),
        )),
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// The host name: stable across restarts, so a restarted node takes its own subscriptions
/// back at once. Several nodes on one host must set `COURIER_NODE_ID` each.
fn default_node_id() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into())
}

fn generate_api_key() -> String {
    format!("ck_{}", uuid::Uuid::new_v4().simple())
}

/// A URL with its password replaced, for error messages and logs.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<unparseable URL>".into(),
    }
}

impl Settings {
    /// The catalog's part of the settings.
    pub fn catalog_config(&self) -> courier_actors::catalog::CatalogConfig {
        courier_actors::catalog::CatalogConfig {
            validate_payloads: self.validate_payloads,
            enforce: self.enforce_catalog,
        }
    }

    /// The part of the settings the delivery engine uses.
    pub fn engine_config(&self) -> courier_actors::engine::EngineConfig {
        courier_actors::engine::EngineConfig {
            node_id: self.node_id.clone(),
            database_url: self.database_url.expose().to_owned(),
            redis_url: self.redis_url.expose().to_owned(),
            redis_prefix: self.redis_prefix.clone(),
            retry_schedule: self.retry_schedule.clone(),
            delivery_timeout: self.delivery_timeout,
            allow_private_targets: self.allow_private_targets,
            disable_after: self.disable_after,
            retry_after_cap: self.retry_after_cap,
            cache_ttl: self.cache_ttl,
            retention: courier_actors::retention::RetentionPolicy {
                retention: self.retention,
                interval: self.retention_interval,
                idempotency_ttl: self.idempotency_ttl,
                batch: 5_000,
            },
            sweep_interval: self.sweep_interval,
            heartbeat_ttl: self.node_ttl,
            max_attempts_in_flight: self.max_attempts_in_flight,
            credential_headers: self.credential_headers.clone(),
            failing_after: self.failing_after,
            ops_webhook_url: self.ops_webhook_url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_on_an_empty_environment() {
        let s = Settings::from_map(&HashMap::new()).expect("defaults are valid");
        assert_eq!(s.bind, "127.0.0.1:8000");
        assert_eq!(s.retry_schedule.max_attempts(), 6);
        assert_eq!(s.max_body, 1 << 20);
        assert!(s.api_key_generated);
        assert!(!s.allow_private_targets);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (var, value) in [
            ("COURIER_RETRY_SCHEDULE", "10s,banana"),
            ("COURIER_RETENTION", "72"),
            ("COURIER_MAX_BODY", "1 parsec"),
            ("COURIER_ALLOW_PRIVATE_TARGETS", "maybe"),
            ("COURIER_API_KEY", "short"),
            ("COURIER_LOG_FORMAT", "xml"),
            ("COURIER_DB_POOL_SIZE", "0"),
        ] {
            let e = Settings::from_map(&map(&[(var, value)])).expect_err(var);
            assert_eq!(e.var, var);
            assert!(e.to_string().contains(var));
        }
    }

    #[test]
    fn env_file_lines_parse_with_comments_and_quotes() {
        let m = parse_env_file("# c\nexport A=1\nB=\"two\"\n\nC='3'\n");
        assert_eq!(m.get("A").map(String::as_str), Some("1"));
        assert_eq!(m.get("B").map(String::as_str), Some("two"));
        assert_eq!(m.get("C").map(String::as_str), Some("3"));
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Settings::from_map(&map(&[("COURIER_API_KEY", "a-very-secret-key-123")]))
            .expect("valid");
        assert!(!format!("{s:?}").contains("a-very-secret-key-123"));
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn tenancy_settings_have_defaults_and_name_their_variable_when_bad() {
        let s = Settings::from_map(&HashMap::new()).expect("defaults are valid");
        assert_eq!(s.session_ttl, Duration::from_secs(8 * 3600));
        assert!(s.encryption_key.is_none());
        assert!(!s.validate_payloads && !s.enforce_catalog && !s.secure_cookies);
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let s = Settings::from_map(&map(&[
            ("COURIER_ENCRYPTION_KEY", key),
            ("COURIER_CREDENTIAL_HEADERS", "X-Partner-Seed, *-auth"),
            ("COURIER_SESSION_TTL", "30m"),
        ]))
        .expect("valid");
        assert!(s.credential_headers.is_credential("x-partner-seed"));
        assert!(!format!("{s:?}").contains(key));
        for (var, value) in [
            ("COURIER_ENCRYPTION_KEY", "not-a-key"),
            ("COURIER_ENCRYPTION_KEY", "AAECAwQFBgcICQoLDA0ODw=="),
            ("COURIER_SESSION_TTL", "10s"),
            ("COURIER_SESSION_TTL", "45d"),
            ("COURIER_VALIDATE_PAYLOADS", "sometimes"),
            ("COURIER_ENFORCE_CATALOG", "2"),
            ("COURIER_SECURE_COOKIES", "y"),
            ("COURIER_CREDENTIAL_HEADERS", "bad name"),
        ] {
            let e = Settings::from_map(&map(&[(var, value)])).expect_err(value);
            assert_eq!(e.var, var);
            assert!(!e.to_string().contains(value) || var != "COURIER_ENCRYPTION_KEY");
        }
    }
}
