//! The consumer portal's settings and brand: `COURIER_PORTAL_ORIGINS` (who may embed it)
//! and the default brand (`COURIER_PORTAL_NAME`, `COURIER_PORTAL_BRAND_COLOR`,
//! `COURIER_PORTAL_LOGO_URL`), and an application's own brand from `metadata.portal`
//! (`{"name", "brand_color", "logo_url"}`).
//!
//! Must never happen: a brand value that is not what it claims to be reaching the page (a
//! colour is `#` and 3, 4, 6 or 8 hex digits; a logo is an `https:` URL or a small
//! `data:image/...;base64,` one), or an origin that could widen `frame-ancestors` beyond
//! what was configured (each is reduced to `scheme://host[:port]`).

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::settings::SettingsError;

const MAX_NAME: usize = 100;
const MAX_URL: usize = 2048;
const MAX_DATA_URL: usize = 12 * 1024;

/// How the portal looks: every field optional (the portal falls back to its own look).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"name": "Acme", "brand_color": "#0a7", "logo_url": "https://acme.example/logo.svg"}))]
pub struct Brand {
    /// Shown as the portal's title (default: the application's name).
    pub name: Option<String>,
    /// A CSS hex colour, `#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa`.
    pub brand_color: Option<String>,
    /// An `https:` URL, or a `data:image/…;base64,` URL of at most 12 KiB.
    pub logo_url: Option<String>,
}

/// The portal's settings.
#[derive(Debug, Clone, Default)]
pub struct PortalSettings {
    /// `COURIER_PORTAL_ORIGINS`: origins (`scheme://host[:port]`) allowed to embed the
    /// portal in an iframe; none by default.
    pub origins: Vec<String>,
    /// The brand of applications whose `metadata.portal` does not set one.
    pub brand: Brand,
}

impl PortalSettings {
    /// Reads the `COURIER_PORTAL_*` variables; a bad value names its variable.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let bad = |var: &'static str, message: String| SettingsError { var, message };
        let origins = match get("COURIER_PORTAL_ORIGINS") {
            None => Vec::new(),
            Some(raw) => parse_origins(raw).map_err(|m| bad("COURIER_PORTAL_ORIGINS", m))?,
        };
        let brand = Brand {
            name: get("COURIER_PORTAL_NAME")
                .map(|v| check_name(v).ok_or_else(|| bad("COURIER_PORTAL_NAME", name_rule())))
                .transpose()?,
            brand_color: get("COURIER_PORTAL_BRAND_COLOR")
                .map(|v| {
                    check_color(v).ok_or_else(|| bad("COURIER_PORTAL_BRAND_COLOR", color_rule()))
                })
                .transpose()?,
            logo_url: get("COURIER_PORTAL_LOGO_URL")
                .map(|v| check_logo(v).ok_or_else(|| bad("COURIER_PORTAL_LOGO_URL", logo_rule())))
                .transpose()?,
        };
        Ok(Self { origins, brand })
    }

    /// The `frame-ancestors` directive of the portal's pages.
    pub fn frame_ancestors(&self) -> String {
        let mut v = String::from("frame-ancestors 'self'");
        for o in &self.origins {
            v.push(' ');
            v.push_str(o);
        }
        v
    }
}

/// `COURIER_PORTAL_ORIGINS`: comma- or space-separated origins, each reduced to its
/// `scheme://host[:port]`; a path, query, user or non-http(s) scheme is refused.
pub fn parse_origins(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in raw
        .split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let url = url::Url::parse(part).map_err(|e| format!("{part:?} is not an origin: {e}"))?;
        let plain = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none();
        if !plain {
            return Err(format!(
                "{part:?} is not an origin: write scheme://host[:port], e.g. https://app.example.com"
            ));
        }
        let origin = url.origin().ascii_serialization();
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

fn name_rule() -> String {
    format!("a name of 1 to {MAX_NAME} characters without control characters")
}
fn color_rule() -> String {
    "a CSS hex colour such as #0a7 or #00aa77".into()
}
fn logo_rule() -> String {
    "an https: URL, or a data:image/(png|jpeg|gif|webp|svg+xml);base64, URL of at most 12 KiB"
        .into()
}

fn check_name(v: &str) -> Option<String> {
    let ok =
        !v.trim().is_empty() && v.chars().count() <= MAX_NAME && !v.chars().any(char::is_control);
    ok.then(|| v.to_owned())
}

fn check_color(v: &str) -> Option<String> {
    let hex = v.strip_prefix('#')?;
    let ok = matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| v.to_ascii_lowercase())
}

fn check_logo(v: &str) -> Option<String> {
    if let Some(rest) = v.strip_prefix("data:image/") {
        let (kind, data) = rest.split_once(";base64,")?;
        let ok = matches!(kind, "png" | "jpeg" | "gif" | "webp" | "svg+xml")
            && v.len() <= MAX_DATA_URL
            && data
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        return ok.then(|| v.to_owned());
    }
    let url = url::Url::parse(v).ok()?;
    let ok = url.scheme() == "https"
        && url.host_str().is_some()
        && url.username().is_empty()
        && v.len() <= MAX_URL;
    ok.then(|| url.to_string())
}

/// A field check: the value as kept, or `None` when it is not valid.
type Check = fn(&str) -> Option<String>;
/// A `metadata.portal` field: its name, its check and the rule it follows.
type Field = (&'static str, Check, fn() -> String);

/// The `portal` object of an application's metadata, checked: `400` naming the field when
/// one is set but not valid (so operators learn at once, not when a customer opens it).
pub fn check_metadata(metadata: &Map<String, Value>) -> ApiResult<()> {
    let Some(portal) = metadata.get("portal") else {
        return Ok(());
    };
    let Some(portal) = portal.as_object() else {
        return Err(ApiError::Validation(
            "metadata.portal must be an object: {\"name\", \"brand_color\", \"logo_url\"}".into(),
        ));
    };
    let fields: [Field; 3] = [
        ("name", check_name, name_rule),
        ("brand_color", check_color, color_rule),
        ("logo_url", check_logo, logo_rule),
    ];
    for (field, check, rule) in fields {
        match portal.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if check(s).is_some() => {}
            Some(_) => {
                return Err(ApiError::Validation(format!(
                    "metadata.portal.{field} must be {}",
                    rule()
                )));
            }
        }
    }
    Ok(())
}

/// The brand of an application: its `metadata.portal` fields where valid, else the
/// configured default, and its name when neither names the portal.
pub fn brand_of(metadata: &Map<String, Value>, app_name: &str, default: &Brand) -> Brand {
    let own = metadata.get("portal").and_then(Value::as_object);
    let field = |name: &str, check: Check| {
        own.and_then(|p| p.get(name))
            .and_then(Value::as_str)
            .and_then(check)
    };
    Brand {
        name: field("name", check_name)
            .or_else(|| default.name.clone())
            .or_else(|| Some(app_name.to_owned())),
        brand_color: field("brand_color", check_color).or_else(|| default.brand_color.clone()),
        logo_url: field("logo_url", check_logo).or_else(|| default.logo_url.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn origins_are_reduced_to_scheme_host_and_port_and_anything_else_is_refused() {
        assert_eq!(
            parse_origins("https://a.example, http://127.0.0.1:8080 https://A.example/").unwrap(),
            vec!["https://a.example", "http://127.0.0.1:8080"]
        );
        for bad in [
            "a.example",
            "https://a.example/path",
            "ftp://a.example",
            "https://u@a.example",
            "https://a.example?x=1",
            "https://a.example;script-src *",
            "'unsafe-inline'",
        ] {
            assert!(parse_origins(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bad_portal_settings_name_their_variable() {
        let vars = |k: &str, v: &str| HashMap::from([(k.to_owned(), v.to_owned())]);
        for (k, v) in [
            ("COURIER_PORTAL_ORIGINS", "https://a.example/path"),
            ("COURIER_PORTAL_BRAND_COLOR", "blue"),
            ("COURIER_PORTAL_LOGO_URL", "http://a.example/logo.png"),
            ("COURIER_PORTAL_NAME", "bad\nname"),
        ] {
            let e = PortalSettings::from_vars(&vars(k, v)).expect_err(k);
            assert_eq!(e.var, k);
        }
        let ok =
            PortalSettings::from_vars(&vars("COURIER_PORTAL_ORIGINS", "http://localhost:8080"))
                .expect("valid");
        assert_eq!(
            ok.frame_ancestors(),
            "frame-ancestors 'self' http://localhost:8080"
        );
        assert_eq!(
            PortalSettings::default().frame_ancestors(),
            "frame-ancestors 'self'"
        );
    }

    #[test]
    fn brand_fields_come_from_metadata_when_valid_else_from_the_default() {
        let default = Brand {
            name: None,
            brand_color: Some("#123456".into()),
            logo_url: None,
        };
        let meta = json!({"portal": {"name": "Acme", "brand_color": "#0A7",
            "logo_url": "javascript:alert(1)"}});
        let b = brand_of(meta.as_object().unwrap(), "Acme Ltd", &default);
        assert_eq!(b.name.as_deref(), Some("Acme"));
        assert_eq!(b.brand_color.as_deref(), Some("#0a7"));
        assert_eq!(b.logo_url, None);
        let b = brand_of(&Map::new(), "Acme Ltd", &default);
        assert_eq!(b.name.as_deref(), Some("Acme Ltd"));
        assert_eq!(b.brand_color.as_deref(), Some("#123456"));
    }

    #[test]
    fn metadata_portal_fields_are_checked() {
        let ok = json!({"portal": {"brand_color": "#0a7", "logo_url": "https://x.example/l.png",
            "name": "Acme"}, "plan": "pro"});
        assert!(check_metadata(ok.as_object().unwrap()).is_ok());
        let data = json!({"portal": {"logo_url": "data:image/svg+xml;base64,PHN2Zy8+"}});
        assert!(check_metadata(data.as_object().unwrap()).is_ok());
        for bad in [
            json!({"portal": "blue"}),
            json!({"portal": {"brand_color": "red; background: url(x)"}}),
            json!({"portal": {"logo_url": "http://x.example/l.png"}}),
            json!({"portal": {"logo_url": "data:text/html;base64,PGI+"}}),
            json!({"portal": {"name": 5}}),
        ] {
            assert!(check_metadata(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
