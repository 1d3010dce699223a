//! The dashboard: the Vite build in `COURIER_DASHBOARD_DIR`, served at `/` (its pages live
//! under `/ui/…`, its files under `/assets/…`). Any `/ui` path answers `index.html` so deep
//! links survive a reload. Without a build, `/` answers a short JSON welcome instead.

use std::path::{Component, Path, PathBuf};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::routes::RouteExt;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.at("/", web::get().to(index))
        .at("/ui", web::get().to(index))
        .at("/ui/{tail:.*}", web::get().to(index))
        .at("/assets/{file:.*}", web::get().to(asset));
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
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

/// `dir/rel` when `rel` stays inside `dir` (no `..`, no absolute parts).
fn inside(dir: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(rel))
}

async fn index(state: web::Data<AppState>) -> HttpResponse {
    let path = state.settings.dashboard_dir.join("index.html");
    match tokio::fs::read(&path).await {
        Ok(bytes) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(bytes),
        Err(_) => HttpResponse::Ok().json(json!({
            "message": "Courier webhook delivery engine",
            "docs": "/redoc",
            "dashboard": "not built: run `npm ci && npm run build` in frontend/ (or set COURIER_DASHBOARD_DIR)",
        })),
    }
}

async fn asset(state: web::Data<AppState>, file: web::Path<String>) -> ApiResult<HttpResponse> {
    let dir = state.settings.dashboard_dir.join("assets");
    let path = inside(&dir, &file).ok_or(ApiError::NotFound("file"))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::NotFound("file"))?;
    Ok(HttpResponse::Ok()
        .content_type(content_type(&path))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::inside;
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
}
