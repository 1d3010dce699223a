//! The explorer's inputs: the query strings and bodies, parsed into the filters of
//! `courier_actors::db::explorer`, each bad value answered with a JSON 400 that names it.

use chrono::{DateTime, Duration, Utc};
use courier_actors::db::explorer::{DeliveryFilter, IdFragment};
use courier_actors::domain::{DeliveryStatus, EventTypePattern};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::routes::deliveries::parse_time;

/// The longest range a stats query may cover.
const MAX_STATS_RANGE_DAYS: i64 = 31;

/// Filters of `GET /deliveries`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliverySearch {
    /// One status or several, comma-separated: `pending`, `delivering`, `retrying`,
    /// `succeeded`, `failed`, `filtered`, `paused`.
    pub status: Option<String>,
    /// An exact type (`order.created`), a prefix pattern (`order.*`) or `*`.
    pub event_type: Option<String>,
    #[param(value_type = Option<Uuid>)]
    pub subscription_id: Option<String>,
    /// The delivery's last HTTP status: a code (`503`) or a class (`5xx`).
    pub http_status: Option<String>,
    /// Created at or after (RFC 3339).
    pub since: Option<String>,
    /// Created before (RFC 3339).
    pub until: Option<String>,
    /// A whole delivery id, or the start or the end of one (at least 4 hex digits; dashes
    /// and a leading `…` are ignored).
    pub id: Option<String>,
    /// Only this application's deliveries (its id or uid; `404` when the caller does not
    /// reach it). Without it: every application an admin reaches, or the key's own.
    pub application: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
}

fn non_empty(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

fn parse_statuses(raw: Option<&str>) -> ApiResult<Option<Vec<DeliveryStatus>>> {
    let Some(raw) = non_empty(raw) else {
        return Ok(None);
    };
    raw.split(',')
        .map(|s| {
            DeliveryStatus::parse(s.trim())
                .map_err(|e| ApiError::BadQuery(format!("status: {}", e.0)))
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

/// `(exact, prefix)` for an event-type pattern; `*` filters nothing.
pub(super) fn parse_event_type(raw: Option<&str>) -> ApiResult<(Option<String>, Option<String>)> {
    let Some(raw) = non_empty(raw) else {
        return Ok((None, None));
    };
    let pattern = EventTypePattern::parse(raw)
        .map_err(|e| ApiError::BadQuery(format!("event_type: {}", e.0)))?;
    let p = pattern.as_str();
    Ok(match p.strip_suffix('*') {
        Some("") => (None, None),
        Some(prefix) => (None, Some(prefix.to_owned())),
        None => (Some(p.to_owned()), None),
    })
}

fn parse_uuid(name: &str, raw: Option<&str>) -> ApiResult<Option<Uuid>> {
    non_empty(raw)
        .map(|s| {
            Uuid::parse_str(s)
                .map_err(|_| ApiError::BadQuery(format!("{name} {s:?} is not a valid id (a UUID)")))
        })
        .transpose()
}

fn parse_http_status(raw: Option<&str>) -> ApiResult<Option<(i32, i32)>> {
    let Some(raw) = non_empty(raw) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::BadQuery(format!(
            "http_status {raw:?} must be a status code (100 to 599) or a class such as 5xx"
        ))
    };
    let lower = raw.to_ascii_lowercase();
    let range = match lower.strip_suffix("xx") {
        Some(d) => {
            let class: i32 = d.parse().map_err(|_| bad())?;
            (class * 100, class * 100 + 99)
        }
        None => {
            let code: i32 = lower.parse().map_err(|_| bad())?;
            (code, code)
        }
    };
    if range.0 < 100 || range.1 > 599 {
        return Err(bad());
    }
    Ok(Some(range))
}

pub(super) fn parse_id_fragment(raw: Option<&str>) -> ApiResult<Option<IdFragment>> {
    let Some(raw) = non_empty(raw) else {
        return Ok(None);
    };
    let hex: String = raw
        .trim_start_matches(['…', '.'])
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    match IdFragment::from_hex(&hex) {
        Some(f) if hex.len() >= 4 => Ok(Some(f)),
        _ => Err(ApiError::BadQuery(format!(
            "id {raw:?} must be a whole id or at least 4 of its hex digits"
        ))),
    }
}

pub(super) fn parse_limit(raw: Option<&str>) -> ApiResult<Option<i64>> {
    non_empty(raw)
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| ApiError::BadQuery(format!("limit {s:?} must be a whole number")))
        })
        .transpose()
}

/// `since` and `until`, each optional.
pub(super) type TimeBounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

pub(super) fn time_range(since: Option<&str>, until: Option<&str>) -> ApiResult<TimeBounds> {
    let since = parse_time("since", since)?;
    let until = parse_time("until", until)?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(ApiError::BadQuery("since must not be after until".into()));
    }
    Ok((since, until))
}

pub(super) fn delivery_filter(q: &DeliverySearch) -> ApiResult<DeliveryFilter> {
    let (event_type, event_prefix) = parse_event_type(q.event_type.as_deref())?;
    let (since, until) = time_range(q.since.as_deref(), q.until.as_deref())?;
    Ok(DeliveryFilter {
        statuses: parse_statuses(q.status.as_deref())?,
        event_type,
        event_prefix,
        subscription_id: parse_uuid("subscription_id", q.subscription_id.as_deref())?,
        http_status: parse_http_status(q.http_status.as_deref())?,
        since,
        until,
        id_fragment: parse_id_fragment(q.id.as_deref())?,
        application_id: None,
    })
}

/// Filters of `GET /messages`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageSearch {
    /// An exact type (`order.created`), a prefix pattern (`order.*`) or `*`.
    pub event_type: Option<String>,
    /// Created at or after (RFC 3339).
    pub since: Option<String>,
    /// Created before (RFC 3339).
    pub until: Option<String>,
    /// A whole message id, or the start or the end of one (at least 4 hex digits).
    pub id: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// The `X-Next-Cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The deliveries a bulk action covers: the filters of `GET /deliveries`; `subscription_id`
/// or `since` is required.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subscription_id": "01938a6e-7d1c-7b3e-9f00-000000000001", "status": "failed",
    "since": "2026-11-29T00:00:00Z"}))]
pub struct BulkFilter {
    /// One status or several, comma-separated. Retry defaults to `failed`; cancel to every
    /// unfinished status (`pending`, `retrying`, `paused`).
    pub status: Option<String>,
    /// An exact type, a prefix pattern (`order.*`) or `*`.
    pub event_type: Option<String>,
    #[schema(value_type = Option<Uuid>)]
    pub subscription_id: Option<String>,
    /// A status code (`503`) or a class (`5xx`).
    pub http_status: Option<String>,
    /// Created at or after (RFC 3339).
    pub since: Option<String>,
    /// Created before (RFC 3339).
    pub until: Option<String>,
}

pub(super) fn bulk_filter(body: &BulkFilter, default_status: &str) -> ApiResult<DeliveryFilter> {
    let search = DeliverySearch {
        status: Some(
            body.status
                .clone()
                .unwrap_or_else(|| default_status.to_owned()),
        ),
        event_type: body.event_type.clone(),
        subscription_id: body.subscription_id.clone(),
        http_status: body.http_status.clone(),
        since: body.since.clone(),
        until: body.until.clone(),
        ..DeliverySearch::default()
    };
    let filter = delivery_filter(&search)?;
    if filter.subscription_id.is_none() && filter.since.is_none() {
        return Err(ApiError::Validation(
            "a bulk action needs subscription_id or since, so it cannot cover the whole history by accident".into(),
        ));
    }
    Ok(filter)
}

pub(super) fn bulk_body(body: &[u8]) -> ApiResult<BulkFilter> {
    // An empty body is an empty filter (then refused for lacking subscription_id or since).
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(BulkFilter::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// The time range of a stats query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsRange {
    /// Start (RFC 3339); default 24 hours before `until`. At most 31 days before `until`.
    pub since: Option<String>,
    /// End (RFC 3339); default now.
    pub until: Option<String>,
}

pub(super) fn stats_range(q: &StatsRange) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let (since, until) = time_range(q.since.as_deref(), q.until.as_deref())?;
    let until = until.unwrap_or_else(Utc::now);
    let since = since.unwrap_or(until - Duration::hours(24));
    if since > until {
        return Err(ApiError::BadQuery("since must not be after until".into()));
    }
    if until - since > Duration::days(MAX_STATS_RANGE_DAYS) {
        return Err(ApiError::BadQuery(format!(
            "the range may span at most {MAX_STATS_RANGE_DAYS} days"
        )));
    }
    Ok((since, until))
}

/// The smallest round bucket that cuts `range` into at most 120 pieces.
pub(super) fn bucket_seconds(range: Duration) -> i64 {
    const STEPS: [i64; 10] = [60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200];
    let secs = range.num_seconds().max(1);
    STEPS
        .into_iter()
        .find(|s| secs / s <= 120)
        .unwrap_or(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_takes_a_code_or_a_class() {
        assert_eq!(
            parse_http_status(Some("503")).ok().flatten(),
            Some((503, 503))
        );
        assert_eq!(
            parse_http_status(Some("5xx")).ok().flatten(),
            Some((500, 599))
        );
        assert_eq!(
            parse_http_status(Some("4XX")).ok().flatten(),
            Some((400, 499))
        );
        assert!(parse_http_status(Some("6xx")).is_err());
        assert!(parse_http_status(Some("abc")).is_err());
        assert!(parse_http_status(Some("99")).is_err());
    }

    #[test]
    fn event_type_patterns_become_exact_or_prefix_filters() {
        let p = |s| parse_event_type(Some(s)).ok();
        assert_eq!(p("order.*"), Some((None, Some("order.".to_owned()))));
        assert_eq!(p("*"), Some((None, None)));
        assert_eq!(
            p("order.created"),
            Some((Some("order.created".to_owned()), None))
        );
        assert!(parse_event_type(Some("ord*er")).is_err());
    }

    #[test]
    fn ids_are_accepted_as_shown_with_an_ellipsis_or_dashes() {
        assert!(parse_id_fragment(Some("…9f00-00000001")).is_ok_and(|f| f.is_some()));
        assert!(parse_id_fragment(Some("abc")).is_err());
        assert!(parse_id_fragment(Some("not-hex-at-all")).is_err());
    }

    #[test]
    fn buckets_cut_a_range_into_at_most_120_pieces() {
        assert_eq!(bucket_seconds(Duration::hours(1)), 60);
        assert_eq!(bucket_seconds(Duration::hours(24)), 900);
        assert_eq!(bucket_seconds(Duration::days(7)), 7200);
        assert_eq!(bucket_seconds(Duration::days(31)), 43_200);
    }
}
