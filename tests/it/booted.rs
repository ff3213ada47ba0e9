//! Booted test hosts: Debian root filesystems (debootstrap) booted with systemd as PID 1 by
//! systemd-nspawn, each in a network namespace of its own with a veth (`host0`, addressed
//! by the container's own systemd-networkd) into a bridge in a lab namespace
//! (TEST-NET-1 only). keepalived and haproxy are in each root filesystem's apt cache, so
//! `hakit setup` runs its real `apt-get install` inside without a network. Commands run
//! inside with `nsenter` into the container's PID 1. Everything is removed on drop, also
//! when a test fails: containers, namespaces, copies and the cgroups nspawn leaves.

use crate::common::{must_run_privileged, require_tool};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where root filesystems are cached, one per Debian suite; the version changes whenever
/// what goes into them changes.
const ROOTFS_DIR: &str = "/var/tmp/hakit-rootfs";
const ROOTFS_VERSION: u32 = 3;
const INCLUDE: &str = "systemd,systemd-sysv,dbus,iproute2,procps";
/// What setup installs, pre-downloaded into the root filesystem's apt cache; and what the
/// package test installs first to look for hakit's man pages and completions.
const CACHED_PACKAGES: &[&str] = &["keepalived", "haproxy", "man-db", "bash-completion"];
const PATH: &str = "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether booted tests can run here (root, debootstrap, systemd-nspawn); under CI=true a
/// missing prerequisite fails the test.
pub fn ready(what: &str) -> bool {
    must_run_privileged(what)
        && require_tool("debootstrap")
        && require_tool("systemd-nspawn")
        && require_tool("nsenter")
}

fn sh(argv: &[&str]) -> Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {argv:?}: {e}"))
}

fn ok(argv: &[&str]) -> String {
    let out = sh(argv);
    assert!(
        out.status.success(),
        "{argv:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The root filesystem of Debian `suite` every node is copied from, built once per machine
/// (about a minute: debootstrap, then the packages into the apt cache). Built under a
/// temporary name and renamed when complete, so an interrupted build is never used.
pub fn rootfs(suite: &str) -> PathBuf {
    let dir = PathBuf::from(format!("{ROOTFS_DIR}/{suite}-{ROOTFS_VERSION}"));
    if dir.join(".complete").exists() {
        return dir;
    }
    let started = Instant::now();
    let tmp = PathBuf::from(format!("{}.building-{}", dir.display(), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.parent().expect("parent")).expect("mkdir");
    let t = tmp.to_str().expect("utf8");
    ok(&[
        "debootstrap",
        "--variant=minbase",
        &format!("--include={INCLUDE}"),
        suite,
        t,
    ]);
    // The host's own network stack (systemd-networkd, with wait-online as `systemctl
    // enable` sets it up) configures host0 at every boot.
    let fetch = format!(
        "apt-get update -qq && apt-get install -y -qq --download-only {} >/dev/null && systemctl enable -q systemd-networkd",
        CACHED_PACKAGES.join(" ")
    );
    in_rootfs(t, &fetch);
    std::fs::write(tmp.join(".complete"), "").expect("mark");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).expect("rename");
    cleanup_cgroups();
    eprintln!(
        "figure: built the {suite} root filesystem in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    dir
}

/// The network manager that owns a booted host's interfaces. systemd-networkd is what
/// debootstrap's Debian has; the others stand in for RHEL's NetworkManager and for
/// older Debian's ifupdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    Networkd,
    NetworkManager,
    Ifupdown,
}

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Stack::Networkd => "networkd",
            Stack::NetworkManager => "nm",
            Stack::Ifupdown => "ifupdown",
        }
    }

    /// Run in the root filesystem: install the manager (without its recommendations:
    /// no Wi-Fi, modem or DHCP client) and make it the one that runs at boot.
    fn install(self) -> Option<String> {
        let networkd_off = "systemctl disable -q systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service";
        match self {
            Stack::Networkd => None,
            Stack::NetworkManager => Some(
                "apt-get install -y -qq --no-install-recommends network-manager >/dev/null && systemctl enable -q NetworkManager && DISABLE",
            ),
            Stack::Ifupdown => Some(
                "apt-get install -y -qq --no-install-recommends ifupdown >/dev/null && systemctl enable -q networking && DISABLE",
            ),
        }
        .map(|s| s.replace("DISABLE", networkd_off))
    }
}

/// The root filesystem of `suite` with `stack` owning the interfaces: the suite's own,
/// copied and given the other manager from the network, once per machine.
pub fn rootfs_with(suite: &str, stack: Stack) -> PathBuf {
    let base = rootfs(suite);
    let Some(install) = stack.install() else {
        return base;
    };
    let dir = PathBuf::from(format!(
        "{ROOTFS_DIR}/{suite}-{}-{ROOTFS_VERSION}",
        stack.name()
    ));
    if dir.join(".complete").exists() {
        return dir;
    }
    let started = Instant::now();
    let tmp = PathBuf::from(format!("{}.building-{}", dir.display(), std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let t = tmp.to_str().expect("utf8");
    ok(&["cp", "-a", base.to_str().expect("utf8"), t]);
    in_rootfs(t, &install);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).expect("rename");
    cleanup_cgroups();
    eprintln!(
        "figure: built the {suite} root filesystem with {} in {:.0} s",
        stack.name(),
        started.elapsed().as_secs_f64()
    );
    dir
}

/// Run `script` in the root filesystem at `root` (not booted), with the host's network.
fn in_rootfs(root: &str, script: &str) {
    ok(&[
        "systemd-nspawn",
        "-D",
        root,
        "--register=no",
        "--keep-unit",
        "--pipe",
        "-q",
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "sh",
        "-c",
        script,
    ]);
}

/// nspawn leaves empty `payload` and `supervisor` cgroups where it ran; remove them (only
/// empty directories can be removed, so a running container's are kept).
fn cleanup_cgroups() {
    for hierarchy in ["unified", "systemd"] {
        for name in ["payload", "supervisor"] {
            let dir = Path::new("/sys/fs/cgroup").join(hierarchy).join(name);
            if dir.is_dir() {
                let _ = Command::new("find")
                    .arg(&dir)
                    .args(["-depth", "-type", "d", "-exec", "rmdir", "{}", ";"])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// The lab: a namespace with the bridge every node's veth is in, and 192.0.2.1 for clients.
pub struct Lab {
    pub ns: String,
    pub nodes: Vec<Node>,
    base: PathBuf,
    _turn: std::sync::MutexGuard<'static, ()>,
}

pub struct Node {
    pub name: String,
    pub root: PathBuf,
    ns: String,
    nspawn: Option<Child>,
    pid1: u32,
}

impl Lab {
    /// Nodes `names` at 192.0.2.11, .12, ..., booted from Debian `suite` and ready, with
    /// this build's hakit in /usr/local/bin.
    pub fn new(tag: &str, suite: &str, names: &[&str]) -> Lab {
        Lab::build(tag, suite, Stack::Networkd, names, true)
    }

    /// The same without hakit: the test installs it (its Debian package).
    pub fn without_hakit(tag: &str, suite: &str, names: &[&str]) -> Lab {
        Lab::build(tag, suite, Stack::Networkd, names, false)
    }

    /// Nodes whose interfaces `stack` owns (host0 configured by it at every boot).
    pub fn with_stack(tag: &str, suite: &str, stack: Stack, names: &[&str]) -> Lab {
        Lab::build(tag, suite, stack, names, true)
    }

    fn build(tag: &str, suite: &str, stack: Stack, names: &[&str], with_hakit: bool) -> Lab {
        let turn = crate::common::heavy_lab_turn();
        let rootfs = rootfs_with(suite, stack);
        let id = format!("{tag}{}", std::process::id() % 100_000);
        let ns = format!("hk-{id}");
        let base = PathBuf::from(format!("/var/tmp/hakit-booted-{id}"));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("base");
        ok(&["ip", "netns", "add", &ns]);
        let mut lab = Lab {
            ns: ns.clone(),
            nodes: vec![],
            base,
            _turn: turn,
        };
        ok(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        crate::common::add_lab_bridge(&ns);
        ok(&["ip", "-n", &ns, "addr", "add", "192.0.2.1/24", "dev", "br0"]);
        for (i, name) in names.iter().enumerate() {
            let address = format!("192.0.2.{}", 11 + i);
            let node = Node::create(&lab, &rootfs, stack, name, &address, with_hakit);
            lab.nodes.push(node);
        }
        for node in &mut lab.nodes {
            node.boot();
        }
        lab
    }

    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .expect("a node of the lab")
    }

    pub fn node_mut(&mut self, name: &str) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .expect("a node of the lab")
    }

    /// The cluster file (`/root/cluster.toml`) and the test secrets (`/root/secrets.toml`,
    /// 0600) on every node, where the tests' `hakit` commands read them.
    pub fn put_cluster(&self, cluster: &str) {
        self.put("/root/cluster.toml", cluster.as_bytes(), 0o644);
        self.put(
            "/root/secrets.toml",
            crate::common::TEST_SECRETS.as_bytes(),
            0o600,
        );
    }

    /// Put a file into every node's root filesystem (from the host side).
    pub fn put(&self, path: &str, bytes: &[u8], mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        for node in &self.nodes {
            let dest = node.root.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            std::fs::write(&dest, bytes).expect("write");
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
            let _ = sh(&["ip", "netns", "del", &node.ns]);
        }
        let _ = sh(&["ip", "netns", "del", &self.ns]);
        let _ = std::fs::remove_dir_all(&self.base);
        cleanup_cgroups();
    }
}

impl Node {
    fn create(
        lab: &Lab,
        rootfs: &Path,
        stack: Stack,
        name: &str,
        address: &str,
        with_hakit: bool,
    ) -> Node {
        let root = lab.base.join(name);
        ok(&[
            "cp",
            "-a",
            "--reflink=auto",
            rootfs.to_str().expect("utf8"),
            root.to_str().expect("utf8"),
        ]);
        std::fs::write(root.join("etc/hostname"), format!("{name}\n")).expect("hostname");
        configure_host0(&root, stack, address);
        if with_hakit {
            std::fs::copy(
                env!("CARGO_BIN_EXE_hakit"),
                root.join("usr/local/bin/hakit"),
            )
            .expect("hakit binary");
        }
        let ns = format!("{}-{name}", lab.ns);
        ok(&["ip", "netns", "add", &ns]);
        let port = format!("{}-{name}", &lab.ns[..lab.ns.len().min(9)]);
        ok(&[
            "ip", "link", "add", &port, "netns", &lab.ns, "type", "veth", "peer", "name", "host0",
            "netns", &ns,
        ]);
        ok(&[
            "ip", "-n", &lab.ns, "link", "set", &port, "master", "br0", "up",
        ]);
        Node {
            name: name.to_string(),
            root,
            ns,
            nspawn: None,
            pid1: 0,
        }
    }

    /// Boot and wait until systemd says the system is up (bounded).
    pub fn boot(&mut self) {
        let started = Instant::now();
        let child = Command::new("systemd-nspawn")
            .args(["-D", self.root.to_str().expect("utf8"), "-M", &self.name])
            .args(["-b", "--register=no", "--keep-unit", "--console=passive"])
            .arg("--capability=CAP_NET_ADMIN")
            .arg(format!("--network-namespace-path=/run/netns/{}", self.ns))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.log())
            .spawn()
            .expect("systemd-nspawn");
        let nspawn = child.id();
        self.nspawn = Some(child);
        // nspawn's first child is short-lived; PID 1 is the one whose comm is systemd.
        let mut pid1 = None;
        while pid1.is_none() && started.elapsed() < Duration::from_secs(30) {
            pid1 = children(nspawn).into_iter().find(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "systemd")
            });
            std::thread::sleep(Duration::from_millis(50));
        }
        self.pid1 = pid1.unwrap_or_else(|| panic!("{}: systemd did not start in 30 s", self.name));
        // Until systemd's own bus is up, systemctl cannot even ask; then it waits.
        let mut out = self.run(&["timeout", "60", "systemctl", "is-system-running", "--wait"]);
        while out.stdout.is_empty() && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(100));
            out = self.run(&["timeout", "60", "systemctl", "is-system-running", "--wait"]);
        }
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            state == "running" || state == "degraded",
            "{}: booted to {state:?} ({})",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// nspawn's own messages, appended to a log beside the node's root.
    fn log(&self) -> Stdio {
        let path = self.root.with_extension("nspawn.log");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    }

    /// The node's network namespace (the same across reboots).
    pub fn netns(&self) -> &str {
        &self.ns
    }

    /// Run a command inside, with a clean environment.
    pub fn run(&self, argv: &[&str]) -> Output {
        Command::new("nsenter")
            .args([
                "-t",
                &self.pid1.to_string(),
                "-a",
                "env",
                "-i",
                PATH,
                "HOME=/root",
            ])
            .args(["LANG=C.UTF-8"])
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .expect("nsenter")
    }

    /// Run inside and require success; returns stdout.
    pub fn ok(&self, argv: &[&str]) -> String {
        let out = self.run(argv);
        assert!(
            out.status.success(),
            "{}: {argv:?} failed:\n{}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `systemctl reboot` and boot again (nspawn exits with 133 on a reboot).
    pub fn reboot(&mut self) -> Duration {
        let started = Instant::now();
        let _ = self.run(&["systemctl", "reboot"]);
        let code = self.wait_exit(Duration::from_secs(60));
        assert_eq!(code, Some(133), "{}: nspawn's exit on reboot", self.name);
        self.forget_network_state();
        self.boot();
        started.elapsed()
    }

    /// `systemctl poweroff`: the container is gone (nspawn exits 0) until `boot`.
    pub fn poweroff(&mut self) {
        let _ = self.run(&["systemctl", "poweroff"]);
        let code = self.wait_exit(Duration::from_secs(60));
        assert_eq!(code, Some(0), "{}: nspawn's exit on poweroff", self.name);
        self.forget_network_state();
    }

    /// What a real reboot does to the kernel's network state and a container's does not
    /// (its network namespace outlives it): every interface down without an IPv4 address,
    /// no policy rule but the kernel's three, no route. lo keeps 127.0.0.1 and the lab's
    /// IMDS address, which stands for the hypervisor's, not the node's. Without this a
    /// network manager finds the old configuration still there at boot, and a test of what
    /// it restores proves nothing.
    fn forget_network_state(&self) {
        const SCRIPT: &str = r#"
for l in $(ls /sys/class/net); do
    [ "$l" = lo ] && continue
    ip link set dev "$l" down
    ip -4 addr flush dev "$l"
done
for a in $(ip -4 -o addr show dev lo | awk '{print $4}'); do
    case "$a" in 127.0.0.1/8|169.254.169.254/32) ;; *) ip addr del "$a" dev lo ;; esac
done
for p in $(ip -4 rule show | awk -F: '$1 != 0 && $1 != 32766 && $1 != 32767 {print $1}' | sort -u); do
    while ip -4 rule del priority "$p" 2>/dev/null; do :; done
done
for t in $(ip -4 route show table all | grep -o 'table [0-9a-z]*' | awk '{print $2}' | sort -u); do
    [ "$t" = local ] || ip -4 route flush table "$t"
done
ip -4 route flush table main
"#;
        ok(&["ip", "netns", "exec", &self.ns, "sh", "-c", SCRIPT]);
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let child = self.nspawn.as_mut()?;
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = child.try_wait() {
                self.nspawn = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn stop(&mut self) {
        let Some(child) = self.nspawn.as_ref() else {
            return;
        };
        // SIGTERM asks nspawn for an orderly shutdown; then make sure, bounded.
        let _ = sh(&["kill", "-TERM", &child.id().to_string()]);
        if self.wait_exit(Duration::from_secs(15)).is_none() {
            let _ = sh(&["kill", "-KILL", &self.pid1.to_string()]);
            if let Some(mut child) = self.nspawn.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The node's own address on host0, in `stack`'s own configuration.
fn configure_host0(root: &Path, stack: Stack, address: &str) {
    use std::os::unix::fs::PermissionsExt;
    let (path, text, mode) = match stack {
        Stack::Networkd => (
            "etc/systemd/network/10-host0.network",
            format!("[Match]\nName=host0\n\n[Network]\nAddress={address}/24\nGateway=192.0.2.1\nIPv6AcceptRA=no\n"),
            0o644,
        ),
        Stack::NetworkManager => (
            "etc/NetworkManager/system-connections/host0.nmconnection",
            format!("[connection]\nid=host0\nuuid=5f1c8a52-9d0e-4d6b-8c3e-7a2b1c0d9e8f\ntype=ethernet\ninterface-name=host0\n\n[ipv4]\nmethod=manual\naddress1={address}/24,192.0.2.1\n\n[ipv6]\nmethod=disabled\n"),
            0o600,
        ),
        Stack::Ifupdown => (
            "etc/network/interfaces.d/host0",
            format!("auto host0\niface host0 inet static\n    address {address}/24\n    gateway 192.0.2.1\n"),
            0o644,
        ),
    };
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("network dir");
    std::fs::write(&path, text).expect("host0's configuration");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Direct children of `pid` (all its threads').
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return vec![];
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}
