//! Chooses the dashboard build that `src/routes/dashboard.rs` embeds, through the
//! `COURIER_DASHBOARD_EMBED` variable:
//!
//! - **release**: builds `frontend/` with npm (`npm ci` when its packages are missing or
//!   stale, then `npm run build`) into `$OUT_DIR/dashboard`, and again only when the
//!   frontend's sources change. Without npm, or when the build fails, it says so with a
//!   `cargo:warning`, embeds an existing `frontend/dist` if there is one, and otherwise the
//!   binary has no dashboard (`/` then answers a JSON welcome). It never fails the build.
//! - **debug**: `frontend/dist`, which debug builds read from disk at run time, so npm never
//!   runs and frontend edits never rebuild the server.
//!
//! `COURIER_SKIP_FRONTEND_BUILD=1` skips npm in release builds too.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Paths whose change makes the release build run npm again (relative to `frontend/`).
const SOURCES: [&str; 9] = [
    "src",
    "index.html",
    "portal.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
    "tsconfig.app.json",
    "tsconfig.node.json",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=COURIER_SKIP_FRONTEND_BUILD");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let frontend = manifest.join("frontend");
    let dist = frontend.join("dist");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let chosen = if release {
        for s in SOURCES {
            println!("cargo:rerun-if-changed=frontend/{s}");
        }
        release_build(&frontend, &dist)
    } else {
        dist
    };
    println!(
        "cargo:rustc-env=COURIER_DASHBOARD_EMBED={}",
        chosen.display()
    );
}

fn warn(msg: &str) {
    println!("cargo:warning={msg}");
}

fn release_build(frontend: &Path, dist: &Path) -> PathBuf {
    let out =
        PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| "target".into())).join("dashboard");
    match build_frontend(frontend, &out) {
        Ok(()) => out,
        Err(why) => {
            warn(&format!("dashboard not built: {why}"));
            if dist.join("index.html").is_file() {
                warn(
                    "embedding the existing frontend/dist instead (it may be older than frontend/src)",
                );
                dist.to_path_buf()
            } else {
                warn(
                    "this binary has no dashboard: `/` answers a JSON welcome until a build with a working npm succeeds",
                );
                out
            }
        }
    }
}

fn build_frontend(frontend: &Path, out: &Path) -> Result<(), String> {
    if env::var_os("COURIER_SKIP_FRONTEND_BUILD").is_some_and(|v| !v.is_empty() && v != "0") {
        return Err("COURIER_SKIP_FRONTEND_BUILD is set".into());
    }
    if !frontend.join("package.json").is_file() {
        return Err(format!("{} has no package.json", frontend.display()));
    }
    run(Command::new("npm").arg("--version"), frontend)
        .map_err(|e| format!("npm is not available ({e})"))?;
    if packages_stale(frontend) {
        run(
            Command::new("npm").args(["ci", "--no-audit", "--no-fund"]),
            frontend,
        )?;
    }
    let out_arg = out.to_str().ok_or("OUT_DIR is not valid UTF-8")?;
    run(
        Command::new("npm").args(["run", "build", "--", "--outDir", out_arg, "--emptyOutDir"]),
        frontend,
    )?;
    if out.join("index.html").is_file() {
        Ok(())
    } else {
        Err("npm run build left no index.html".into())
    }
}

/// No `node_modules`, or `package-lock.json` changed since `npm ci` last ran.
fn packages_stale(frontend: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (
        modified(frontend.join("package-lock.json")),
        modified(frontend.join("node_modules/.package-lock.json")),
    ) {
        (Some(lock), Some(installed)) => lock > installed,
        _ => true,
    }
}

fn run(cmd: &mut Command, dir: &Path) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    let output = cmd
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{shown}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tail: Vec<&str> = stderr.lines().chain(stdout.lines()).rev().take(6).collect();
    Err(format!(
        "{shown} failed ({}): {}",
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
    ))
}
