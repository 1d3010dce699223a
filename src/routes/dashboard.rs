//! The dashboard: the Vite build, served at `/` (its pages live under `/ui/…`, its files
//! under `/assets/…`). Any `/ui` path answers `index.html` so deep links survive a reload.
//! The consumer portal is the build's second entry, `portal.html`, answered for `/portal`
//! and every `/portal/…` page.
//!
//! Framing: the dashboard's pages say `frame-ancestors 'none'` (and `X-Frame-Options:
//! DENY`): nobody may frame them. The portal's pages say `frame-ancestors 'self'` and the
//! origins of `COURIER_PORTAL_ORIGINS`, and `Referrer-Policy: no-referrer` (their URL holds
//! the one-time link token until the page removes it).
//!
//! Where the files come from: a release binary embeds the build that `build.rs` made
//! (debug builds read `frontend/dist` from disk instead, through the same type);
//! `COURIER_DASHBOARD_DIR`, when set, overrides both. Text files are sent gzip-compressed to
//! clients that accept it, compressed once per file and kept. Without any build, `/` answers
//! a short JSON welcome. A path outside the build directory is never read.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::routes::RouteExt;
use crate::state::AppState;

/// The dashboard build that `build.rs` chose (see there); empty when there was none.
#[derive(rust_embed::RustEmbed)]
#[folder = "$COURIER_DASHBOARD_EMBED"]
#[allow_missing = true]
struct Embedded;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.at("/", web::get().to(index))
        .at("/ui", web::get().to(index))
        .at("/ui/{tail:.*}", web::get().to(index))
        .at("/portal", web::get().to(portal))
        .at("/portal/{tail:.*}", web::get().to(portal))
        .at("/assets/{file:.*}", web::get().to(asset));
}

fn content_type(path: &str) -> &'static str {
    match Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type == "application/json"
        || content_type == "image/svg+xml"
}

/// `dir/rel` when `rel` stays inside `dir` (no `..`, no absolute parts).
fn inside(dir: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(rel))
}

/// A file of the build, by its path relative to the build directory.
async fn read_file(override_dir: Option<&Path>, rel: &str) -> Option<Arc<[u8]>> {
    match override_dir {
        Some(dir) => {
            let path = inside(dir, rel)?;
            tokio::fs::read(path).await.ok().map(Arc::from)
        }
        None => {
            if !Path::new(rel)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
            {
                return None;
            }
            Embedded::get(rel).map(|f| Arc::from(f.data.into_owned()))
        }
    }
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::best());
    enc.write_all(bytes).ok()?;
    enc.finish().ok()
}

/// The gzip form of an embedded file, made on first use and kept (embedded files never change).
fn gzipped_once(rel: &str, bytes: &[u8]) -> Option<Arc<[u8]>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<[u8]>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok()?.get(rel) {
        return Some(hit.clone());
    }
    let packed: Arc<[u8]> = Arc::from(gzip(bytes)?);
    cache.lock().ok()?.insert(rel.to_owned(), packed.clone());
    Some(packed)
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.trim().split(';');
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Answers a file of the build, compressed when the client accepts it and it is text.
async fn send(
    req: &HttpRequest,
    state: &AppState,
    rel: &str,
    cache_control: &'static str,
) -> Option<HttpResponse> {
    let dir = state.settings.dashboard_dir.as_deref();
    let bytes = read_file(dir, rel).await?;
    let kind = content_type(rel);
    let mut resp = HttpResponse::Ok();
    resp.content_type(kind)
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::VARY, "Accept-Encoding"));
    if compressible(kind) && accepts_gzip(req) {
        let packed = match dir {
            None => gzipped_once(rel, &bytes),
            Some(_) => gzip(&bytes).map(Arc::from),
        };
        if let Some(packed) = packed {
            resp.insert_header((header::CONTENT_ENCODING, "gzip"));
            return Some(resp.body(packed.to_vec()));
        }
    }
    Some(resp.body(bytes.to_vec()))
}

fn set(resp: &mut HttpResponse, name: header::HeaderName, value: &str) {
    if let Ok(v) = header::HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

async fn index(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match send(&req, &state, "index.html", "no-cache").await {
        Some(mut resp) => {
            set(&mut resp, header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'");
            set(&mut resp, header::X_FRAME_OPTIONS, "DENY");
            resp
        }
        None => HttpResponse::Ok().json(json!({
            "message": "Courier webhook delivery engine",
            "docs": "/redoc",
            "dashboard": "not built into this binary: build with npm available (cargo build --release), \
                          or run `npm ci && npm run build` in frontend/ and set COURIER_DASHBOARD_DIR=frontend/dist",
        })),
    }
}

async fn portal(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut resp =
        send(&req, &state, "portal.html", "no-store")
            .await
            .ok_or(ApiError::NotFound(
                "consumer portal (not built into this binary)",
            ))?;
    let policy = state.settings.portal.frame_ancestors();
    set(&mut resp, header::CONTENT_SECURITY_POLICY, &policy);
    set(&mut resp, header::REFERRER_POLICY, "no-referrer");
    Ok(resp)
}

async fn asset(
    req: HttpRequest,
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> ApiResult<HttpResponse> {
    // File names under assets/ carry a content hash, so a name never changes its bytes.
    send(
        &req,
        &state,
        &format!("assets/{file}"),
        "public, max-age=31536000, immutable",
    )
    .await
    .ok_or(ApiError::NotFound("file"))
}

#[cfg(test)]
mod tests {
    use super::{compressible, content_type, gzip, inside};
    use std::io::Read as _;
    use std::path::Path;

    #[test]
    fn paths_cannot_escape_the_dashboard_directory() {
        let dir = Path::new("/srv/dash");
        assert!(inside(dir, "index-abc.js").is_some());
        assert!(inside(dir, "sub/x.css").is_some());
        assert!(inside(dir, "../secret").is_none());
        assert!(inside(dir, "/etc/passwd").is_none());
        assert!(inside(dir, "a/../../b").is_none());
    }

    #[test]
    fn text_is_compressed_and_round_trips() {
        assert!(compressible(content_type("assets/index-abc.js")));
        assert!(!compressible(content_type("assets/logo.png")));
        let text = "const a = 1;\n".repeat(1000);
        let packed = gzip(text.as_bytes()).expect("gzip");
        assert!(packed.len() < text.len() / 10);
        let mut back = String::new();
        flate2::read::GzDecoder::new(packed.as_slice())
            .read_to_string(&mut back)
            .expect("gunzip");
        assert_eq!(back, text);
    }
}
