//! What the subscription routes read and write: the subscription as the API shows it (its
//! secret only in the answers of create and rotate-secret, credential headers masked), the
//! bodies of create, PUT, PATCH and rotate-secret, and their validation into a
//! [`SubscriptionSpec`] (everything below the routes trusts a spec).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use courier_actors::db::subscriptions::{SubscriptionRow, SubscriptionSpec};
use courier_actors::domain::{EventFilter, Invalid, SubscriptionStatus, TargetUrl, check_text};
use courier_actors::headers::{CredentialHeaders, ExtraHeaders};
use courier_actors::retry::RetrySchedule;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Default `max_in_flight`: concurrent attempts to one subscription.
pub const DEFAULT_MAX_IN_FLIGHT: i32 = 16;

/// A subscription as the API shows it. The secret appears only in the answers of create and
/// rotate-secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01938a6e-7d1c-7b3e-9f00-6a2b1c3d4e5f", "target_url": "https://example.com/webhook",
    "event_types": ["order.created", "user.*"], "description": "orders to the ERP", "headers": {"x-team": "erp"},
    "rate_limit_per_second": 50, "max_in_flight": 16, "timeout_ms": 5000, "status": "active",
    "disabled_reason": null, "is_active": true, "requires_signature": true,
    "created_at": "2026-11-29T12:00:00Z", "updated_at": "2026-11-29T12:00:00Z"
}))]
pub struct SubscriptionView {
    pub id: Uuid,
    /// The application it belongs to.
    pub application_id: Uuid,
    pub target_url: String,
    /// Patterns: exact (`order.created`), prefix (`order.*`) or `*`. Empty means every event.
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// Extra headers sent with every delivery (values of credential headers masked).
    pub headers: BTreeMap<String, String>,
    /// Deliveries per second at most (token bucket); null means unlimited.
    pub rate_limit_per_second: Option<i32>,
    /// Concurrent attempts at most.
    pub max_in_flight: i32,
    /// Concurrent attempts allowed now: adaptive, within `max_in_flight`. It halves when the
    /// receiver times out or answers 429/503 and grows back on fast successes; it equals
    /// `max_in_flight` until the receiver gives a reason to slow down.
    pub current_concurrency: i32,
    /// Per-attempt timeout; null means the server default.
    pub timeout_ms: Option<i32>,
    /// The content filter; null means every event its `event_types` take.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
    /// Its own retry delays; null means the server's `COURIER_RETRY_SCHEDULE`.
    pub retry_schedule: Option<Vec<String>>,
    /// `active`, `paused` or `disabled`.
    pub status: String,
    /// Why the subscription was disabled, when it was.
    pub disabled_reason: Option<String>,
    /// `status == "active"` (kept for clients of the original service).
    pub is_active: bool,
    /// Whether ingestion must carry `X-Hub-Signature-256` (the client chose the secret).
    pub requires_signature: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The signing secret: only in the answers of create and rotate-secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl SubscriptionView {
    /// The view of `row`, with `headers` (opened) masked by `rules`; `secret` only for the
    /// answers that show it.
    pub fn new(
        row: SubscriptionRow,
        headers: &ExtraHeaders,
        rules: &CredentialHeaders,
        secret: Option<String>,
    ) -> Self {
        let retry_schedule = row
            .retry_schedule()
            .map(|s| s.steps().iter().map(|d| format_duration(*d)).collect());
        Self {
            is_active: row.status == SubscriptionStatus::Active.as_str(),
            id: row.id,
            application_id: row.application_id,
            target_url: row.target_url,
            event_types: row.event_types,
            description: row.description,
            headers: rules.mask_map(headers.as_map()),
            rate_limit_per_second: row.rate_limit_per_second,
            max_in_flight: row.max_in_flight,
            current_concurrency: row.max_in_flight,
            timeout_ms: row.timeout_ms,
            retry_schedule,
            filter: row.filter.map(|f| f.0),
            status: row.status,
            disabled_reason: row.disabled_reason,
            requires_signature: row.requires_signature,
            created_at: row.created_at,
            updated_at: row.updated_at,
            secret,
        }
    }
}

impl SubscriptionView {
    /// With the adaptive concurrency its owner last recorded (none: never cut).
    pub fn with_concurrency(mut self, recorded: Option<i32>) -> Self {
        if let Some(c) = recorded {
            self.current_concurrency = c.clamp(1, self.max_in_flight.max(1));
        }
        self
    }
}

/// Body of create and PUT. `secret_key` is accepted as an alias of `secret` (the original
/// service's examples use it); PUT refuses a secret (use rotate-secret).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"target_url": "https://example.com/webhook", "secret": "mysecret",
    "event_types": ["order.created", "user.updated"]}))]
pub struct SubscriptionBody {
    pub target_url: String,
    /// Optional. When given, ingestion for this subscription must be signed with it. When
    /// absent, Courier generates a `whsec_` secret (shown once) and ingestion needs the API key.
    #[serde(default, alias = "secret_key")]
    pub secret: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub rate_limit_per_second: Option<i32>,
    #[serde(default)]
    pub max_in_flight: Option<i32>,
    #[serde(default)]
    pub timeout_ms: Option<i32>,
    /// A content filter matched against `{"event_type", "payload", "headers"}`: paths with
    /// `$eq $neq $gt $gte $lt $lte $in $nin $exists $startsWith`, combined with
    /// `$and $or $not`; an event that does not match is recorded `filtered`.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"payload": {"amount": {"$gte": 100}}}))]
    pub filter: Option<serde_json::Value>,
    /// Its own retry delays (at most 20, each at most 7d), e.g. `["5s", "1m", "1h"]`;
    /// absent: the server's `COURIER_RETRY_SCHEDULE`.
    #[serde(default)]
    pub retry_schedule: Option<Vec<String>>,
}

/// Body of PATCH: absent fields stay as they are; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"event_types": ["order.*"], "rate_limit_per_second": null}))]
pub struct SubscriptionPatch {
    pub target_url: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub headers: Option<Option<BTreeMap<String, String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub rate_limit_per_second: Option<Option<i32>>,
    pub max_in_flight: Option<i32>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub timeout_ms: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub retry_schedule: Option<Option<Vec<String>>>,
    #[serde(default, alias = "secret_key")]
    #[schema(ignore)]
    pub secret: Option<serde::de::IgnoredAny>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Body of rotate-secret: optionally the new secret; otherwise one is generated.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RotateBody {
    #[serde(default, alias = "secret_key")]
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// `active`, `paused` or `disabled`.
    pub status: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
}

fn check_description(d: Option<String>) -> Result<Option<String>, Invalid> {
    match d {
        Some(d) if d.chars().count() > 1000 => {
            Err(Invalid("description is longer than 1000 characters".into()))
        }
        Some(d) => {
            check_text("description", &d, true)?;
            Ok(Some(d))
        }
        None => Ok(None),
    }
}

fn check_range(name: &str, v: Option<i32>, lo: i32, hi: i32) -> Result<Option<i32>, Invalid> {
    match v {
        Some(n) if !(lo..=hi).contains(&n) => {
            Err(Invalid(format!("{name} must be between {lo} and {hi}")))
        }
        other => Ok(other),
    }
}

/// What a client chose, before validation (create, PUT, or PATCH merged onto the stored).
struct Parts<'a> {
    target_url: &'a str,
    event_types: Option<Vec<String>>,
    description: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    rate: Option<i32>,
    in_flight: Option<i32>,
    timeout: Option<i32>,
    filter: Option<serde_json::Value>,
    retry_schedule: Option<RetrySchedule>,
}

/// Everything but the secret, validated.
fn spec_from_parts(p: Parts<'_>) -> Result<SubscriptionSpec, Invalid> {
    if let Some(f) = &p.filter {
        courier_actors::filter::Filter::parse(f)?;
    }
    Ok(SubscriptionSpec {
        target_url: TargetUrl::parse(p.target_url)?,
        event_types: EventFilter::parse(&p.event_types.unwrap_or_default())?,
        description: check_description(p.description)?,
        headers: ExtraHeaders::parse(p.headers.unwrap_or_default())?,
        rate_limit_per_second: check_range("rate_limit_per_second", p.rate, 1, 100_000)?,
        max_in_flight: check_range("max_in_flight", p.in_flight, 1, 1_000)?
            .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        timeout_ms: check_range("timeout_ms", p.timeout, 100, 120_000)?,
        filter: p.filter,
        retry_schedule: p.retry_schedule,
    })
}

/// The most steps of a subscription's own retry schedule, and the longest step.
pub const MAX_RETRY_STEPS: usize = 20;
const MAX_RETRY_STEP: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// A subscription's own retry schedule: durations such as `10s`, `5m`, `1h`.
fn parse_retry_schedule(raw: Option<Vec<String>>) -> Result<Option<RetrySchedule>, Invalid> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.len() > MAX_RETRY_STEPS {
        return Err(Invalid(format!(
            "retry_schedule: at most {MAX_RETRY_STEPS} steps are allowed"
        )));
    }
    let mut steps = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let d = courier_actors::units::parse_duration(s)
            .map_err(|e| Invalid(format!("retry_schedule[{i}]: {}", e.0)))?;
        if d.is_zero() || d > MAX_RETRY_STEP {
            return Err(Invalid(format!(
                "retry_schedule[{i}]: each step must be more than 0 and at most 7d"
            )));
        }
        steps.push(d);
    }
    Ok(Some(RetrySchedule::from_delays(steps)))
}

/// A duration as a short text (`250ms`, `10s`, `5m`, `2h`, `1d`).
pub fn format_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    units
        .iter()
        .find(|(n, _)| ms >= *n && ms.is_multiple_of(*n))
        .map_or_else(|| format!("{ms}ms"), |(n, u)| format!("{}{u}", ms / n))
}

pub fn spec_from_body(b: SubscriptionBody) -> Result<SubscriptionSpec, Invalid> {
    spec_from_parts(Parts {
        target_url: &b.target_url,
        event_types: b.event_types,
        description: b.description,
        headers: b.headers,
        rate: b.rate_limit_per_second,
        in_flight: b.max_in_flight,
        timeout: b.timeout_ms,
        filter: b.filter,
        retry_schedule: parse_retry_schedule(b.retry_schedule)?,
    })
}

pub fn merge_patch(
    old: SubscriptionSpec,
    p: SubscriptionPatch,
    rules: &CredentialHeaders,
) -> Result<SubscriptionSpec, Invalid> {
    let headers = match p.headers {
        Some(new) => new.map(|h| keep_masked(&old.headers, h, rules)),
        None => Some(old.headers.as_map().clone()),
    };
    let retry_schedule = match p.retry_schedule {
        Some(new) => parse_retry_schedule(new)?,
        None => old.retry_schedule,
    };
    spec_from_parts(Parts {
        target_url: p.target_url.as_deref().unwrap_or(old.target_url.as_str()),
        event_types: p
            .event_types
            .unwrap_or_else(|| Some(old.event_types.to_strings())),
        description: p.description.unwrap_or(old.description),
        headers,
        rate: p.rate_limit_per_second.unwrap_or(old.rate_limit_per_second),
        in_flight: Some(p.max_in_flight.unwrap_or(old.max_in_flight)),
        timeout: p.timeout_ms.unwrap_or(old.timeout_ms),
        filter: p.filter.unwrap_or(old.filter),
        retry_schedule,
    })
}

/// A credential header sent back exactly as the API showed it (masked) keeps its stored
/// value: clients that read a subscription, change a field and write it back do not
/// overwrite a credential with its mask.
pub fn keep_masked(
    old: &ExtraHeaders,
    mut new: BTreeMap<String, String>,
    rules: &CredentialHeaders,
) -> BTreeMap<String, String> {
    for (name, value) in new.iter_mut() {
        let key = name.to_ascii_lowercase();
        if let Some(stored) = old.as_map().get(&key)
            && rules.is_credential(&key)
            && *value == courier_actors::headers::mask(stored)
        {
            value.clone_from(stored);
        }
    }
    new
}
