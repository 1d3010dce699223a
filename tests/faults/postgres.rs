//! A Postgres cluster a test owns (`initdb` in a temporary directory, run as the `postgres`
//! user), so it can be stopped like a crash and started again. Shared by the fault suite and
//! the hostile suite.

use crate::harness::{free_port, unique};

/// A Postgres cluster the test owns, so it can be stopped and started (needs root, which
/// CI and the development machines have, to run it as the `postgres` user).
pub struct PrivatePostgres {
    dir: std::path::PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn bin(tool: &str) -> String {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .max()
            })
            .unwrap_or_else(|| "15".into());
        format!("/usr/lib/postgresql/{version}/bin/{tool}")
    }

    fn as_postgres(args: &[&str]) -> std::process::Output {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(args)
            .output()
            .expect("runuser")
    }

    pub fn init() -> Self {
        let dir = std::env::temp_dir().join(unique("courier_pg"));
        std::fs::create_dir_all(&dir).expect("dir");
        let _ = std::process::Command::new("chown")
            .args(["postgres:postgres", &dir.to_string_lossy()])
            .status();
        let out = Self::as_postgres(&[
            &Self::bin("initdb"),
            "-D",
            &dir.join("data").to_string_lossy(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ]);
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg = Self {
            dir,
            port: free_port(),
        };
        pg.start();
        pg
    }

    pub fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.to_string_lossy()
        );
        let log = self.dir.join("pg.log");
        let out = Self::as_postgres(&[
            &Self::bin("pg_ctl"),
            "-D",
            &self.dir.join("data").to_string_lossy(),
            "-o",
            &opts,
            "-l",
            &log.to_string_lossy(),
            "-w",
            "start",
        ]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops at once, like a crash (`-m immediate`).
    pub fn stop(&self) {
        let _ = Self::as_postgres(&[
            &Self::bin("pg_ctl"),
            "-D",
            &self.dir.join("data").to_string_lossy(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]);
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
