//! The suite's network, made with `ip` (iproute2) and torn down on drop, even on panic:
//!
//! - `cinfra-<id>`: a bridge `br0` carrying Postgres (`.2`), Redis (`.3`) and the receiver
//!   (`.4`), each on an address of its own so a node can be cut off from just one;
//! - `cnode<k>-<id>`: one namespace per node (`.10 + k`), joined to the bridge by a veth pair;
//! - one veth from the root namespace (`.1`), so the test process reaches the nodes and the
//!   infrastructure.
//!
//! The /24 is chosen per run among `10.100.0.0`–`10.250.255.0`, avoiding any 10.x the root
//! namespace already routes. `<id>` starts with the test process's pid, so a later run can
//! tell which leftovers belong to a process that is gone and remove them (with the processes
//! still inside them) without touching a live run's. Nothing here routes anywhere but
//! between these namespaces.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub const POSTGRES: u8 = 2;
pub const REDIS: u8 = 3;
pub const RECEIVER: u8 = 4;

/// Runs `ip` with `args`; panics with its error output when it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ip_output(args: &[&str]) -> String {
    Command::new("ip")
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Why the suite cannot run here, if it cannot (not root, or no `ip netns`).
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
        Err(e) => Some(format!("no `ip` command: {e}")),
    }
}

/// The namespaces and links of one run.
pub struct Net {
    pub id: String,
    subnet: [u8; 3],
    nodes: usize,
    host_link: String,
}

impl Net {
    /// Removes what dead runs left, then builds the topology for `nodes` nodes.
    pub fn create(nodes: usize) -> Self {
        clean_stale();
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}x{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let net = Self {
            host_link: format!("ch{id}"),
            subnet: free_subnet(),
            nodes,
            id,
        };
        net.build();
        net
    }

    pub fn ip(&self, host: u8) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, host)
    }

    pub fn node_ip(&self, k: usize) -> Ipv4Addr {
        self.ip(10 + u8::try_from(k).expect("few nodes"))
    }

    pub fn infra_ns(&self) -> String {
        format!("cinfra-{}", self.id)
    }

    pub fn node_ns(&self, k: usize) -> String {
        format!("cnode{k}-{}", self.id)
    }

    fn build(&self) {
        let infra = self.infra_ns();
        ip(&["netns", "add", &infra]);
        ip(&["-n", &infra, "link", "set", "lo", "up"]);
        ip(&["-n", &infra, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &infra, "link", "set", "br0", "up"]);
        for host in [POSTGRES, REDIS, RECEIVER] {
            let addr = format!("{}/24", self.ip(host));
            ip(&["-n", &infra, "addr", "add", &addr, "dev", "br0"]);
        }
        let h = &self.host_link;
        ip(&[
            "link", "add", h, "type", "veth", "peer", "name", "host", "netns", &infra,
        ]);
        ip(&["-n", &infra, "link", "set", "host", "master", "br0", "up"]);
        ip(&["addr", "add", &format!("{}/24", self.ip(1)), "dev", h]);
        ip(&["link", "set", h, "up"]);
        for k in 1..=self.nodes {
            let ns = self.node_ns(k);
            let port = format!("n{k}");
            ip(&["netns", "add", &ns]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n", &infra, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            ip(&["-n", &infra, "link", "set", &port, "master", "br0", "up"]);
            let addr = format!("{}/24", self.node_ip(k));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        }
    }

    /// Cuts node `k` off from infrastructure host `host`, both ways: the node's packets to it
    /// are blackholed in the node's namespace, its packets to the node by a rule in the
    /// infrastructure's namespace. Established connections stall; new ones fail.
    pub fn cut(&self, k: usize, host: u8) {
        let (target, node) = (format!("{}/32", self.ip(host)), self.node_ip(k).to_string());
        ip(&["-n", &self.node_ns(k), "route", "add", "blackhole", &target]);
        let from = self.ip(host).to_string();
        ip(&[
            "-n",
            &self.infra_ns(),
            "rule",
            "add",
            "from",
            &from,
            "to",
            &node,
            "blackhole",
        ]);
    }

    /// Undoes [`Net::cut`].
    pub fn heal(&self, k: usize, host: u8) {
        let (target, node) = (format!("{}/32", self.ip(host)), self.node_ip(k).to_string());
        ip(&["-n", &self.node_ns(k), "route", "del", "blackhole", &target]);
        let from = self.ip(host).to_string();
        ip(&[
            "-n",
            &self.infra_ns(),
            "rule",
            "del",
            "from",
            &from,
            "to",
            &node,
            "blackhole",
        ]);
    }

    /// A listening socket on `addr` inside the infrastructure namespace (made on a thread
    /// that enters the namespace; the socket stays there whoever uses it afterwards).
    pub fn listen_in_infra(&self, host: u8) -> TcpListener {
        let path = format!("/run/netns/{}", self.infra_ns());
        let addr = SocketAddrV4::new(self.ip(host), 0);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).expect("namespace file");
            use std::os::fd::AsRawFd as _;
            // SAFETY: a valid namespace fd; only this short-lived thread changes namespace.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            TcpListener::bind(addr).expect("bind inside the namespace")
        })
        .join()
        .expect("listener thread")
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let mut names: Vec<String> = (1..=self.nodes).map(|k| self.node_ns(k)).collect();
        names.push(self.infra_ns());
        for ns in names {
            remove_namespace(&ns);
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
    }
}

/// Kills what still runs inside `ns` (by pid: only this suite's processes live there), then
/// deletes it (its veths go with it).
fn remove_namespace(ns: &str) {
    for pid in ip_output(&["netns", "pids", ns]).split_whitespace() {
        let _ = Command::new("kill").args(["-9", pid]).output();
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
}

/// Namespaces and host links of runs whose process is gone.
fn clean_stale() {
    let dead = |id: &str| {
        let pid = id.split('x').next().unwrap_or("");
        !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    };
    for line in ip_output(&["netns", "list"]).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let id = name.strip_prefix("cinfra-").or_else(|| {
            name.strip_prefix("cnode")
                .and_then(|r| r.split_once('-').map(|p| p.1))
        });
        if id.is_some_and(dead) {
            remove_namespace(name);
        }
    }
    for line in ip_output(&["-o", "link", "show", "type", "veth"]).lines() {
        let name = line.split(':').nth(1).unwrap_or("").trim();
        let name = name.split('@').next().unwrap_or("");
        if name.strip_prefix("ch").is_some_and(dead) {
            let _ = Command::new("ip").args(["link", "del", name]).output();
        }
    }
}

/// A 10.x.y.0/24 nothing in the root namespace uses.
fn free_subnet() -> [u8; 3] {
    let used = ip_output(&["-4", "route", "show", "table", "all"]);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = nanos ^ std::process::id().wrapping_mul(2_654_435_761);
    loop {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let a = 100 + u8::try_from((x >> 8) % 151).expect("< 151");
        let b = u8::try_from((x >> 16) % 256).expect("< 256");
        if !used.contains(&format!("10.{a}.")) {
            return [10, a, b];
        }
    }
}
