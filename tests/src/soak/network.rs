//! Real network partitions for the soak: one network namespace per server, each with a veth
//! pair into a hub namespace whose bridge joins them. The clients and the observer live in the
//! hub (their threads enter it with setns), so every byte between two servers, or between a
//! client and a server, crosses a veth and can be cut there.
//!
//! Addresses are loopback-range (`127.0.1.N` for server N, [`HUB_ADDRESS`] for the hub) but
//! live only inside namespaces this run created: nothing is sent to any other address. For a
//! 127/8 address to leave a namespace over a veth, each namespace narrows its own `lo` to
//! `127.0.0.1/32` (otherwise all of 127/8 is local there) and sets `route_localnet=1` and
//! `rp_filter=0`. The host's own network is never touched.
//!
//! A partition is an nftables table in the server's namespace that drops everything in and out
//! of its veth: packets vanish silently, as on a real broken link (no RST, no ICMP).

use std::fs::File;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The address of the hub namespace (clients, observer) on its bridge.
pub const HUB_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 100);

/// The nftables table a partition adds to a server's namespace.
const PARTITION_TABLE: &str = "zab_soak_partition";

/// Runs in one process get distinct names.
static RUNS: AtomicU32 = AtomicU32::new(0);

/// The namespaces, veths and bridge of one run; all deleted when dropped (also on panic).
pub struct Network {
    /// Prefix of every name this run created.
    tag: String,
    members: u8,
    created: Vec<String>,
}

/// The address of server `id` (1-based).
pub fn member_address(id: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1, id)
}

impl Network {
    /// Creates the hub and `members` server namespaces. Fails with `ip`'s own message when
    /// the machine cannot (not root, no iproute2, no netns support).
    pub fn create(members: u8) -> Result<Network, String> {
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        // Interface names hold at most 15 bytes: "zs" + pid + run + "h9" fits.
        let tag = format!("zs{}{}", std::process::id() % 100_000, run % 10);
        let mut network = Network { tag, members, created: Vec::new() };
        network.create_hub()?;
        for id in 1..=members {
            network.create_member(id)?;
        }
        Ok(network)
    }

    /// The hub namespace's name.
    pub fn hub(&self) -> String {
        format!("{}-hub", self.tag)
    }

    /// Server `id`'s namespace name.
    pub fn member(&self, id: u8) -> String {
        format!("{}-s{id}", self.tag)
    }

    /// Server `id`'s end of its veth pair (in its own namespace).
    fn member_veth(&self, id: u8) -> String {
        format!("{}m{id}", self.tag)
    }

    /// The hub's end of server `id`'s veth pair.
    fn hub_veth(&self, id: u8) -> String {
        format!("{}h{id}", self.tag)
    }

    fn create_hub(&mut self) -> Result<(), String> {
        let hub = self.hub();
        ip(&["netns", "add", &hub])?;
        self.created.push(hub.clone());
        prepare_namespace(&hub)?;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        ip(&["-n", &hub, "addr", "add", &format!("{HUB_ADDRESS}/24"), "dev", "br0"])?;
        allow_loopback_routing(&hub, "br0")
    }

    fn create_member(&mut self, id: u8) -> Result<(), String> {
        let namespace = self.member(id);
        let (member_veth, hub_veth, hub) = (self.member_veth(id), self.hub_veth(id), self.hub());
        ip(&["netns", "add", &namespace])?;
        self.created.push(namespace.clone());
        prepare_namespace(&namespace)?;
        ip(&[
            "link",
            "add",
            &member_veth,
            "netns",
            &namespace,
            "type",
            "veth",
            "peer",
            "name",
            &hub_veth,
            "netns",
            &hub,
        ])?;
        ip(&["-n", &hub, "link", "set", &hub_veth, "master", "br0", "up"])?;
        let address = format!("{}/24", member_address(id));
        ip(&["-n", &namespace, "addr", "add", &address, "dev", &member_veth])?;
        ip(&["-n", &namespace, "link", "set", &member_veth, "up"])?;
        allow_loopback_routing(&namespace, &member_veth)
    }

    /// Cuts server `id` off from everyone (peers and clients): drops all its veth traffic.
    pub fn isolate(&self, id: u8) -> Result<(), String> {
        let veth = self.member_veth(id);
        let rules = format!(
            "table inet {PARTITION_TABLE} {{\n\
             chain input {{ type filter hook input priority 0; policy accept; iifname \"{veth}\" drop; }}\n\
             chain output {{ type filter hook output priority 0; policy accept; oifname \"{veth}\" drop; }}\n\
             }}\n"
        );
        run_with_input(Command::new("ip").args(["netns", "exec", &self.member(id), "nft", "-f", "-"]), &rules)
    }

    /// Ends the partition of server `id`.
    pub fn heal(&self, id: u8) -> Result<(), String> {
        ip(&["netns", "exec", &self.member(id), "nft", "delete", "table", "inet", PARTITION_TABLE])
    }

    /// Enters the hub namespace on the calling thread (and so on the threads it spawns).
    pub fn enter_hub(&self) -> Result<(), String> {
        enter_namespace(&self.hub())
    }

    /// How many server namespaces there are.
    pub fn members(&self) -> u8 {
        self.members
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends and the bridge in it.
        for namespace in self.created.iter().rev() {
            if let Err(error) = ip(&["netns", "del", namespace]) {
                eprintln!("soak: could not delete network namespace {namespace}: {error}");
            }
        }
    }
}

/// Moves the calling thread into a named network namespace (`/run/netns/NAME`).
pub fn enter_namespace(name: &str) -> Result<(), String> {
    let path = format!("/run/netns/{name}");
    let file = File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| format!("setns({path}): {e}"))
}

/// Brings `lo` up as `127.0.0.1/32` only, so the rest of 127/8 is routed, not local.
fn prepare_namespace(namespace: &str) -> Result<(), String> {
    ip(&["-n", namespace, "link", "set", "lo", "up"])?;
    ip(&["-n", namespace, "addr", "del", "127.0.0.1/8", "dev", "lo"])?;
    ip(&["-n", namespace, "addr", "add", "127.0.0.1/32", "dev", "lo"])
}

/// Lets 127/8 packets leave and arrive over `device` (Linux drops them as martians otherwise).
fn allow_loopback_routing(namespace: &str, device: &str) -> Result<(), String> {
    let script = format!(
        "echo 1 > /proc/sys/net/ipv4/conf/all/route_localnet && \
         echo 1 > /proc/sys/net/ipv4/conf/{device}/route_localnet && \
         echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter && \
         echo 0 > /proc/sys/net/ipv4/conf/{device}/rp_filter"
    );
    ip(&["netns", "exec", namespace, "sh", "-c", &script])
}

/// Runs `ip ARGS`, returning its stderr on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `ip` (package iproute2): {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

fn run_with_input(command: &mut Command, input: &str) -> Result<(), String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// Whether this machine has what a soak needs, or what is missing: root, `ip`, `nft`.
pub fn missing_tools() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("the soak needs root (network namespaces)".to_string());
    }
    for (tool, version_flag, package) in [("ip", "-V", "iproute2"), ("nft", "--version", "nftables")] {
        let found = Command::new(tool).arg(version_flag).stdout(Stdio::null()).stderr(Stdio::null()).status();
        if found.is_err() {
            return Some(format!("`{tool}` is missing (Debian package {package})"));
        }
    }
    None
}
