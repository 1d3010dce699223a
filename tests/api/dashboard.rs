//! The dashboard's files as the server sends them, from a `COURIER_DASHBOARD_DIR` build:
//! pages answer `index.html`, hashed assets are cached for good and gzip-compressed for
//! clients that accept it, and nothing outside the build directory is ever read.

use std::io::Read as _;
use std::path::PathBuf;

use awc::http::StatusCode;
use uuid::Uuid;

use crate::support::TestApp;

const INDEX: &str = "<!doctype html><div id=\"root\"></div>";

fn build_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("courier-dash-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("assets")).expect("mkdir");
    std::fs::write(dir.join("index.html"), INDEX).expect("index");
    let js = "export const courier = 1;\n".repeat(400);
    std::fs::write(dir.join("assets/index-abc123.js"), js).expect("asset");
    std::fs::write(
        dir.parent().expect("tmp").join("courier-dash-secret.txt"),
        "secret",
    )
    .expect("secret");
    dir
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("valid gzip");
    out
}

#[actix_web::test]
async fn pages_answer_the_index_and_assets_come_compressed_and_cached() {
    let dir = build_dir();
    let app = TestApp::spawn_with(&[("COURIER_DASHBOARD_DIR", dir.to_str().expect("utf-8"))]).await;
    for path in [
        "/",
        "/ui",
        "/ui/deliveries?status=failed",
        "/ui/subscriptions/x/edit",
    ] {
        let page = app.call_with("GET", path, None, &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(String::from_utf8_lossy(&page.raw), INDEX, "{path}");
        assert_eq!(page.header("cache-control").as_deref(), Some("no-cache"));
    }

    let plain = app
        .call_with("GET", "/assets/index-abc123.js", None, &[])
        .await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(plain.header("content-encoding").is_none());
    assert_eq!(
        plain.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        plain.header("cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );

    let packed = app
        .call_with(
            "GET",
            "/assets/index-abc123.js",
            None,
            &[("Accept-Encoding", "br, gzip;q=0.8")],
        )
        .await;
    assert_eq!(packed.header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(packed.header("vary").as_deref(), Some("Accept-Encoding"));
    assert!(
        packed.raw.len() * 10 < plain.raw.len(),
        "{} vs {}",
        packed.raw.len(),
        plain.raw.len()
    );
    assert_eq!(gunzip(&packed.raw).as_bytes(), plain.raw.as_slice());

    let refused = app
        .call_with(
            "GET",
            "/assets/index-abc123.js",
            None,
            &[("Accept-Encoding", "gzip;q=0")],
        )
        .await;
    assert!(refused.header("content-encoding").is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn missing_and_escaping_asset_paths_get_a_json_404() {
    let dir = build_dir();
    let app = TestApp::spawn_with(&[("COURIER_DASHBOARD_DIR", dir.to_str().expect("utf-8"))]).await;
    for path in [
        "/assets/nope.js",
        "/assets/../../courier-dash-secret.txt",
        "/assets/%2e%2e/%2e%2e/courier-dash-secret.txt",
        "/assets/..%2F..%2Fcourier-dash-secret.txt",
    ] {
        let a = app.call_with("GET", path, None, &[]).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {:?}", a.body);
        assert_ne!(
            a.raw.as_slice(),
            b"secret",
            "{path} read a file outside the build"
        );
        assert!(a.body["code"].is_string(), "{path}: {:?}", a.body);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn without_any_build_the_root_answers_a_json_welcome() {
    let empty =
        std::env::temp_dir().join(format!("courier-dash-empty-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&empty).expect("mkdir");
    let app =
        TestApp::spawn_with(&[("COURIER_DASHBOARD_DIR", empty.to_str().expect("utf-8"))]).await;
    let a = app.call_with("GET", "/", None, &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["docs"], "/redoc");
    assert!(
        a.body["dashboard"]
            .as_str()
            .is_some_and(|s| s.contains("not built"))
    );
    let _ = std::fs::remove_dir_all(&empty);
}
