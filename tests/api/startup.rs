//! Start-up failures: one clear line naming the variable, a non-zero exit, no panic.

use std::process::Command;

fn run_courier(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_courier"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("COURIER_BIND", "127.0.0.1:0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("courier runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unreachable_database_exits_non_zero_naming_database_url() {
    let (code, stderr) = run_courier(&[
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/x"),
        ("COURIER_API_KEY", "k-1234567890123456"),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("courier: DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_malformed_database_url_exits_non_zero_naming_it() {
    let (code, stderr) = run_courier(&[
        ("DATABASE_URL", "not a url"),
        ("COURIER_API_KEY", "k-1234567890123456"),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

#[test]
fn an_unreachable_redis_exits_non_zero_naming_redis_url() {
    let db = format!(
        "{}/courier_test_{}",
        crate::support::db_server(),
        uuid::Uuid::new_v4().simple()
    );
    let (code, stderr) = run_courier(&[
        ("DATABASE_URL", &db),
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("COURIER_API_KEY", "k-1234567890123456"),
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("courier: REDIS_URL"), "{stderr}");
}

#[test]
fn a_bad_setting_exits_with_code_2_naming_the_variable() {
    let (code, stderr) = run_courier(&[("COURIER_RETRY_SCHEDULE", "soon")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("COURIER_RETRY_SCHEDULE"), "{stderr}");
}
