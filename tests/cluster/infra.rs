//! The processes of the suite, each inside a namespace of [`crate::net`]: a private Postgres
//! cluster and a private `redis-server` in `cinfra-<id>`, and the Courier nodes, one per
//! `cnode<k>-<id>`, run as `ip netns exec <ns> target/debug/courier`. Every process is
//! ended by its pid when its owner drops (and the namespace teardown kills any left).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::net::{self, Net};

pub const API_KEY: &str = "cluster-suite-api-key-0123456789";
pub const NODE_TTL_MS: u64 = 3_000;
const HTTP_PORT: u16 = 8000;

pub fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cluster");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

/// A Postgres cluster of the test's own, listening only on the bridge's Postgres address.
pub struct Postgres {
    dir: PathBuf,
    pub ip: Ipv4Addr,
}

impl Postgres {
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

    fn as_postgres(ns: Option<&str>, args: &[&str]) -> std::process::Output {
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "runuser"]);
                c
            }
            None => Command::new("runuser"),
        };
        cmd.args(["-u", "postgres", "--"])
            .args(args)
            .output()
            .expect("runuser")
    }

    pub fn start(net: &Net) -> Self {
        let dir = std::env::temp_dir().join(format!("courier_cluster_pg_{}", net.id));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let _ = Command::new("chown")
            .args(["postgres:postgres", &dir.to_string_lossy()])
            .status();
        let data = dir.join("data");
        let out = Self::as_postgres(
            None,
            &[
                &Self::bin("initdb"),
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hba = format!("host all all {}/24 trust\n", net.ip(0));
        let mut conf = std::fs::read_to_string(data.join("pg_hba.conf")).expect("pg_hba");
        conf.push_str(&hba);
        std::fs::write(data.join("pg_hba.conf"), conf).expect("pg_hba written");
        let ip = net.ip(net::POSTGRES);
        let opts = format!(
            "-p 5432 -k {} -c listen_addresses={ip} -c fsync=off -c max_connections=200",
            dir.to_string_lossy()
        );
        let log = dir.join("pg.log");
        let out = Self::as_postgres(
            Some(&net.infra_ns()),
            &[
                &Self::bin("pg_ctl"),
                "-D",
                &data.to_string_lossy(),
                "-o",
                &opts,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir, ip }
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@{}:5432/{db}", self.ip)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = Self::as_postgres(
            None,
            &[
                &Self::bin("pg_ctl"),
                "-D",
                &data.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `redis-server` of the test's own on the bridge's Redis address; stoppable and
/// restartable (it keeps nothing on disk).
pub struct Redis {
    ns: String,
    pub ip: Ipv4Addr,
    child: Option<Child>,
}

impl Redis {
    pub fn start(net: &Net) -> Self {
        let mut r = Self {
            ns: net.infra_ns(),
            ip: net.ip(net::REDIS),
            child: None,
        };
        r.spawn();
        r
    }

    pub fn spawn(&mut self) {
        let ip = self.ip.to_string();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "redis-server",
                "--bind",
                &ip,
                "--port",
                "6379",
            ])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let pong = Command::new("redis-cli")
                .args(["-h", &ip, "-p", "6379", "PING"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG");
            if pong.unwrap_or(false) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("private redis did not start");
    }

    /// Kills the server: every connection to it is reset, and what it held is gone.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}:6379", self.ip)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One Courier node: the debug binary in its own namespace.
pub struct Node {
    pub k: usize,
    pub node_id: String,
    pub ip: Ipv4Addr,
    ns: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Node {
    pub fn new(net: &Net, k: usize, database_url: &str, redis_url: &str, prefix: &str) -> Self {
        let ip = net.node_ip(k);
        let node_id = format!("node{k}");
        let env = [
            ("COURIER_BIND", format!("{ip}:{HTTP_PORT}")),
            ("DATABASE_URL", database_url.to_owned()),
            ("REDIS_URL", redis_url.to_owned()),
            ("COURIER_REDIS_PREFIX", prefix.to_owned()),
            ("COURIER_API_KEY", API_KEY.to_owned()),
            ("COURIER_ALLOW_PRIVATE_TARGETS", "true".to_owned()),
            ("COURIER_NODE_ID", node_id.clone()),
            ("COURIER_NODE_TTL", format!("{NODE_TTL_MS}ms")),
            ("COURIER_SWEEP_INTERVAL", "500ms".to_owned()),
            (
                "COURIER_RETRY_SCHEDULE",
                "200ms,400ms,800ms,1s,2s,2s,2s".to_owned(),
            ),
            ("COURIER_DELIVERY_TIMEOUT", "2s".to_owned()),
            ("COURIER_DB_POOL_SIZE", "8".to_owned()),
            ("COURIER_WORKERS", "2".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Self {
            k,
            log: out_dir().join(format!("node{k}-{}.log", net.id)),
            node_id,
            ip,
            ns: net.node_ns(k),
            env,
            child: None,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}:{HTTP_PORT}", self.ip)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process with `overrides` on top of its environment, logging to `log`
    /// (without waiting).
    pub fn spawn_with(&self, overrides: &[(&str, &str)], log: &std::path::Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let mut env = self.env.clone();
        for (k, v) in overrides {
            env.retain(|(ek, _)| ek != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        Command::new("ip")
            .args(["netns", "exec", &self.ns, env!("CARGO_BIN_EXE_courier")])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("courier starts")
    }

    /// Starts the node and waits until `/health` answers.
    pub async fn start(&mut self) {
        self.child = Some(self.spawn_with(&[], &self.log));
        let client = awc::Client::default();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/health", self.base())).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("node {} did not start; log: {}", self.k, self.log.display());
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn sigstop(&self) {
        if let Some(pid) = self.pid() {
            signal(pid, "-STOP");
        }
    }

    pub fn sigcont(&self) {
        if let Some(pid) = self.pid() {
            signal(pid, "-CONT");
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.sigcont();
        self.kill9();
    }
}
