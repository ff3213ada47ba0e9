//! End to end, in network namespaces this test creates and always removes: a bridge, two
//! nodes, or three in one lab (real keepalived, real HAProxy, `hakit setup` run in each, IMDS at
//! 169.254.169.254 inside each node serving its identity and instance-role credentials), an
//! `aws` host running moto's EC2 server and the lab's database, and a client. Addresses are
//! TEST-NET-1 (192.0.2.0/24). A hotplug helper plays the hypervisor: an ENI attached in
//! the emulator appears in the node as an interface with its MAC.
//!
//! Scenarios: setup puts the Elastic IP on n1; SIGKILL of n1's keepalived (node death)
//! moves it to n2; n1 back with nopreempt leaves it there; killing n2's proxy moves it
//! back; a VRRP split brain moves it at most once and heals to one master holding it;
//! rollback leaves no ENI, the allocation unassociated and the node trees as they were.
//! Then the l2-vip mode: the VIP moves and the client still connects. And three nodes with
//! preempt in aws-eip mode: a failure moves the address to the next node in priority only,
//! the healthy first node takes it back, a second failure reaches the third node. And the
//! crash tests: n1's aws-eip setup SIGKILLed after each step, each time rolled back clean.
//! And an aws-eip pair of real ProxySQLs (the vendored binary) in front of a real MariaDB:
//! a login through the Elastic IP, before and after ProxySQL dies on the master.

use crate::common::{must_run_privileged, require_tool, TEST_SECRETS};
use crate::emulator::{eip_state, prepare, runtime, sdk_client, World, REGION};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) const AWS_IP: &str = "192.0.2.2";
const CLIENT_IP: &str = "192.0.2.200";
/// Nodes in priority order (the cluster file lists them so); a lab uses the first two or all three.
const NODE_NAMES: [&str; 3] = ["n1", "n2", "n3"];
const NODE_IPS: [&str; 3] = ["192.0.2.11", "192.0.2.12", "192.0.2.13"];
/// The link-local marker keepalived puts on the VRRP master's `lo` (aws-eip mode).
pub(crate) const MARKER: &str = "169.254.250.51";
/// The ProxySQL lab's MariaDB, on the aws host beside the banner server's 3306.
const PROXYSQL_BACKEND_PORT: u16 = 3307;
/// No helper outlives this, even if the test process dies without cleaning up.
pub const LIFETIME_S: &str = "900";

pub fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

pub(crate) fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .expect("spawn")
}

/// A network namespace, removed with everything running in it on drop.
pub(crate) struct Netns(pub(crate) String);

impl Netns {
    pub(crate) fn add(name: String) -> Netns {
        let _ = sh(&["ip", "netns", "del", &name]);
        ok(sh(&["ip", "netns", "add", &name]), "ip netns add");
        let ns = Netns(name);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub(crate) fn ip(&self, args: &[&str]) -> String {
        let mut argv = vec!["ip", "-n", &self.0];
        argv.extend_from_slice(args);
        ok(sh(&argv), &argv.join(" "))
    }

    pub(crate) fn exec(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    pub(crate) fn spawn(&self, args: &[&str], log: &Path) -> Daemon {
        spawn_in(&self.0, args, log)
    }

    pub(crate) fn pids(&self) -> Vec<String> {
        String::from_utf8_lossy(&sh(&["ip", "netns", "pids", &self.0]).stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = sh(&["kill", "-9", &pid]);
        }
        let _ = sh(&["ip", "netns", "del", &self.0]);
    }
}

/// A helper process, killed on drop.
pub struct Daemon(Child);

/// Run `args` in network namespace `ns`, output to `log`.
pub fn spawn_in(ns: &str, args: &[&str], log: &Path) -> Daemon {
    // Appended: a daemon the test restarts keeps what it logged before (the soak reads
    // keepalived's log for deaths across restarts).
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("dup"))
        .stderr(file)
        .spawn()
        .expect("spawn in namespace");
    Daemon(child)
}

/// IMDS for lab node `name` (instance `i` of `world`, at `private_ip`, the MAC of its
/// `device`) at 169.254.169.254 in namespace `ns`, which must have that address on lo.
pub fn imds_in(
    ns: &str,
    name: &str,
    device: &str,
    private_ip: &str,
    world: &World,
    i: usize,
    dir: &Path,
) -> Daemon {
    let link = ok(
        sh(&["ip", "-n", ns, "-o", "link", "show", device]),
        "ip link show",
    );
    let mac = link
        .split("link/ether ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("mac");
    let (subnet_id, subnet_cidr, az) = world.subnets[i].clone();
    let identity = serde_json::json!({
        "instance_id": world.instances[i], "az": az, "region": REGION, "mac": mac,
        "private_ip": private_ip, "subnet_id": subnet_id, "subnet_cidr": subnet_cidr, "vpc_id": "vpc-lab",
    });
    let id_path = dir.join(format!("{name}-identity.json"));
    std::fs::write(&id_path, identity.to_string()).expect("identity");
    spawn_in(
        ns,
        &[
            "python3",
            &e2e_dir().join("imds.py").display().to_string(),
            "169.254.169.254",
            "80",
            &id_path.display().to_string(),
            LIFETIME_S,
        ],
        &dir.join(format!("{name}-imds.log")),
    )
}

/// The hypervisor's part for lab node `name` in namespace `ns`: each ENI EC2 (`moto_url`)
/// shows attached to `instance` appears as an interface plugged into `bridge_ns`'s br0
/// (bridge ports named `port_prefix`e<index>).
pub fn hotplug_in(
    ns: &str,
    name: &str,
    moto_url: &str,
    instance: &str,
    port_prefix: &str,
    bridge_ns: &str,
    dir: &Path,
) -> Daemon {
    spawn_in(
        ns,
        &[
            "python3",
            &e2e_dir().join("hotplug.py").display().to_string(),
            moto_url,
            instance,
            port_prefix,
            bridge_ns,
            LIFETIME_S,
        ],
        &dir.join(format!("{name}-hotplug.log")),
    )
}

/// moto's EC2 server in namespace `ns`, reached by the nodes at `ip`:5000 through a proxy
/// that can answer as a troubled EC2 does (ec2_faults.py; [`ec2_fault`] sets how), and the
/// endpoint the test process uses to reach moto itself: a port on its own loopback,
/// relayed through a unix socket into the namespace. Waits (bounded) until it answers.
pub fn moto_in(ns: &str, ip: &str, dir: &Path) -> (Vec<Daemon>, String) {
    // moto as AWS assigns ENI addresses (see moto_aws.py): never a subnet's reserved ones.
    let mut daemons = vec![spawn_in(
        ns,
        &[
            "python3",
            &e2e_dir().join("moto_aws.py").display().to_string(),
            "127.0.0.1",
            "5001",
        ],
        &dir.join("moto.log"),
    )];
    daemons.push(spawn_in(
        ns,
        &[
            "python3",
            &e2e_dir().join("ec2_faults.py").display().to_string(),
            ip,
            "5000",
            "5001",
            &dir.join("ec2-fault").display().to_string(),
            LIFETIME_S,
        ],
        &dir.join("ec2-faults.log"),
    ));
    let sock = dir.join("moto.sock");
    let _ = std::fs::remove_file(&sock);
    daemons.push(spawn_in(
        ns,
        &[
            "socat",
            &format!("UNIX-LISTEN:{},fork", sock.display()),
            "TCP:127.0.0.1:5001",
        ],
        &dir.join("socat-moto.log"),
    ));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let relay = Command::new("socat")
        .args([
            format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"),
            format!("UNIX-CONNECT:{}", sock.display()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("socat");
    daemons.push(Daemon(relay));
    let endpoint = format!("http://127.0.0.1:{port}");
    wait_until("moto in its namespace", Duration::from_secs(30), || {
        let rt = runtime();
        let ec2 = sdk_client(&rt, &endpoint);
        rt.block_on(ec2.describe_vpcs().send()).is_ok()
    });
    (daemons, endpoint)
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn wait_until(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> bool,
) -> Duration {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

pub(crate) struct Node {
    pub(crate) name: &'static str,
    pub(crate) ns: Netns,
    pub(crate) root: PathBuf,
    pub(crate) config: PathBuf,
    /// This node's hakit, at a path of its own (not /usr/local/bin or /usr/bin): the
    /// cluster file leaves `paths.hakit_bin` unset, so the failover hook must run the
    /// binary that ran setup, from wherever it is.
    pub(crate) bin: PathBuf,
    pub(crate) keepalived: Option<Daemon>,
    pub(crate) haproxy: Option<Daemon>,
    pub(crate) proxysql: Option<Daemon>,
    /// When set, keepalived runs from a copy of the rendered config (beside the node's
    /// tree) that adds `vrrp_notify_fifo` with this fifo: keepalived writes one line there
    /// for every notify it runs (`INSTANCE "name" MASTER 150`, `... MASTER_RX_LOWER_PRI`),
    /// which the soak counts the failover log against.
    pub(crate) events_fifo: Option<PathBuf>,
}

impl Node {
    /// ProxySQL (the vendored binary) from the proxysql.cnf setup wrote, its database
    /// outside the node's tree (rollback's comparison covers the tree).
    pub(crate) fn start_proxysql(&mut self, binary: &Path, datadir: &Path) {
        std::fs::create_dir_all(datadir).expect("datadir");
        let cnf = self.root.join("etc/proxysql.cnf");
        self.proxysql = Some(self.ns.spawn(
            &[
                &binary.display().to_string(),
                "-f",
                "--no-version-check",
                "-c",
                &cnf.display().to_string(),
                "-D",
                &datadir.display().to_string(),
            ],
            &datadir.join("proxysql.out"),
        ));
    }

    pub(crate) fn start_haproxy(&mut self) {
        let cfg = self.root.join("etc/haproxy/haproxy.cfg");
        let daemon = self.ns.spawn(
            &["haproxy", "-db", "-f", &cfg.display().to_string()],
            &self.root.join("haproxy.log"),
        );
        // `ip netns exec` execs haproxy: the child's pid is haproxy's (the seed's check uses it).
        std::fs::write(self.root.join("haproxy.pid"), daemon.0.id().to_string()).expect("pid file");
        self.haproxy = Some(daemon);
    }

    pub(crate) fn start_keepalived(&mut self) {
        let r = self.root.display().to_string();
        // A SIGKILLed keepalived leaves its pid files behind.
        for pid in ["k.pid", "v.pid", "c.pid"] {
            let _ = std::fs::remove_file(self.root.join(pid));
        }
        let mut conf = format!("{r}/etc/keepalived/keepalived.conf");
        if let Some(fifo) = &self.events_fifo {
            let rendered = std::fs::read_to_string(&conf).expect("keepalived.conf");
            let copy = self.root.with_extension("keepalived.conf");
            std::fs::write(
                &copy,
                format!(
                    "{rendered}\nglobal_defs {{\n    vrrp_notify_fifo {}\n}}\n",
                    fifo.display()
                ),
            )
            .expect("the lab's keepalived.conf");
            conf = copy.display().to_string();
        }
        let args = [
            "keepalived",
            "-n",
            "-l",
            "-D",
            "--vrrp",
            "-f",
            &conf,
            "-p",
            &format!("{r}/k.pid"),
            "-r",
            &format!("{r}/v.pid"),
            "-c",
            &format!("{r}/c.pid"),
        ];
        self.keepalived = Some(self.ns.spawn(&args, &self.root.join("keepalived.log")));
    }

    /// SIGKILL every keepalived process of this node at once: a dead node sends no
    /// priority-0 advert.
    pub(crate) fn kill_keepalived(&mut self) {
        let pids: Vec<String> = self
            .ns
            .pids()
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "keepalived")
            })
            .collect();
        // Freeze first so the VRRP child cannot react to its parent's death (it would send
        // a priority-0 advert, which is a graceful resignation, not a death).
        let mut stop = vec!["kill", "-STOP"];
        stop.extend(pids.iter().map(String::as_str));
        let _ = sh(&stop);
        let mut kill = vec!["kill", "-KILL"];
        kill.extend(pids.iter().map(String::as_str));
        let _ = sh(&kill);
        if let Some(mut d) = self.keepalived.take() {
            let _ = d.0.wait();
        }
    }

    pub(crate) fn stop_keepalived(&mut self) {
        if let Some(mut d) = self.keepalived.take() {
            let _ = sh(&["kill", "-TERM", &d.0.id().to_string()]);
            let _ = d.0.wait();
        }
    }

    pub(crate) fn kill_haproxy(&mut self) {
        self.haproxy = None;
    }

    pub(crate) fn hakit(&self, args: &[&str]) -> Output {
        self.ns
            .exec(&[&self.bin.display().to_string()])
            .args(args)
            .output()
            .expect("hakit")
    }

    /// Whether `hakit notify` logged a line containing `needle` on this node.
    pub(crate) fn notified(&self, needle: &str) -> bool {
        std::fs::read_to_string(self.root.join("var/log/hakit/failover.log"))
            .is_ok_and(|t| t.contains(needle))
    }

    pub(crate) fn holds_marker(&self, addr: &str) -> bool {
        self.ns
            .ip(&["-o", "-4", "addr", "show"])
            .contains(&format!(" {addr}/"))
    }
}

pub(crate) struct Lab {
    pub(crate) dir: PathBuf,
    pub(crate) endpoint: String,
    pub(crate) world: World,
    pub(crate) nodes: Vec<Node>,
    pub(crate) client: Netns,
    pub(crate) _daemons: Vec<Daemon>,
    pub(crate) _aws: Netns,
    pub(crate) _bridge: Netns,
    /// Last, so the lab is torn down before the next heavy lab starts.
    pub(crate) _turn: std::sync::MutexGuard<'static, ()>,
}

/// Every file under `root`: path -> sha256 (mode included).
pub(crate) fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let rel = path.strip_prefix(root).expect("under").to_path_buf();
            if meta.is_dir() {
                stack.push(path);
                out.insert(rel, "dir".into());
            } else if meta.is_file() {
                let h: String = Sha256::digest(std::fs::read(&path).expect("read"))
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                out.insert(rel, format!("{:o} {h}", meta.permissions().mode() & 0o7777));
            }
        }
    }
    out
}

fn secure_dir(path: &Path) {
    std::fs::create_dir_all(path).expect("mkdir");
    let mut d = Some(path);
    while let Some(p) = d {
        if p.starts_with(env!("CARGO_TARGET_TMPDIR")) {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        d = p.parent();
    }
}

/// Namespace and interface prefix: unique per test process and per lab, so the two labs can
/// run at the same time (interface names stay within 15 characters).
fn prefix(lab: &str) -> String {
    format!("hk{}{}", std::process::id() % 10_000, &lab[..1])
}

/// Namespaces, bridge, the aws host (moto + database), the client, and `count` empty nodes.
fn build_network(
    dir: &Path,
    lab: &str,
    count: usize,
) -> (Netns, Netns, Netns, Vec<Netns>, Vec<Daemon>, String) {
    let p = prefix(lab);
    let bridge = Netns::add(format!("{p}-br"));
    crate::common::add_lab_bridge(&bridge.0);
    // The VPC router: the first address of each node subnet, for the ENIs' own tables.
    for gw in ["192.0.2.65/24", "192.0.2.129/24"] {
        bridge.ip(&["addr", "add", gw, "dev", "br0"]);
    }
    ok(
        bridge
            .exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])
            .output()
            .expect("sysctl"),
        "ip_forward",
    );
    let plug = |ns: &Netns, short: &str, addr: &str| {
        let port = format!("{p}{short}");
        bridge.ip(&[
            "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns.0,
        ]);
        bridge.ip(&["link", "set", &port, "master", "br0", "up"]);
        ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
        ns.ip(&["link", "set", "eth0", "up"]);
    };
    let aws = Netns::add(format!("{p}-aws"));
    plug(&aws, "aws", AWS_IP);
    let client = Netns::add(format!("{p}-client"));
    plug(&client, "cl", CLIENT_IP);
    let nodes: Vec<Netns> = (0..count)
        .map(|i| {
            let ns = Netns::add(format!("{p}-{}", NODE_NAMES[i]));
            plug(&ns, NODE_NAMES[i], NODE_IPS[i]);
            // A VPC answers ARP for an address with the MAC of the ENI that owns it. On the
            // lab's plain bridge a node's hotplugged ENI would answer for the node's eth0
            // address too (Linux's default), and a peer's VRRP adverts would reach an
            // interface keepalived does not listen on: a split brain the VPC cannot have.
            ok(
                ns.exec(&[
                    "sysctl",
                    "-qw",
                    "net.ipv4.conf.all.arp_ignore=1",
                    "net.ipv4.conf.all.arp_announce=2",
                ])
                .output()
                .expect("sysctl"),
                "arp_ignore",
            );
            ns.ip(&["addr", "add", "169.254.169.254/32", "dev", "lo"]);
            ns
        })
        .collect();
    let (mut daemons, endpoint) = moto_in(&aws.0, AWS_IP, dir);
    daemons.push(aws.spawn(
        &[
            "python3",
            &e2e_dir().join("backend.py").display().to_string(),
            AWS_IP,
            "3306",
            LIFETIME_S,
        ],
        &dir.join("backend.log"),
    ));
    (bridge, aws, client, nodes, daemons, endpoint)
}

/// Beyond the two instances `prepare` creates (one per AZ), one more per extra node, in the
/// subnets in turn: n3 shares n1's subnet and AZ.
fn add_instances(endpoint: &str, world: &mut World, count: usize) {
    if world.instances.len() >= count {
        return;
    }
    let rt = runtime();
    let ec2 = sdk_client(&rt, endpoint);
    rt.block_on(async {
        let images = ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .expect("images");
        let image = images
            .images()
            .first()
            .and_then(|i| i.image_id())
            .expect("an AMI")
            .to_string();
        while world.instances.len() < count {
            let subnet = world.subnets[world.instances.len() % 2].clone();
            let r = ec2
                .run_instances()
                .image_id(&image)
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet.0)
                .send()
                .await
                .expect("instance");
            world.instances.push(
                r.instances()
                    .first()
                    .and_then(|i| i.instance_id())
                    .expect("instance id")
                    .to_string(),
            );
            world.subnets.push(subnet);
        }
    });
}

fn cluster_file(
    mode: &str,
    profile: &str,
    node_root: &Path,
    world: &World,
    extra: &str,
    count: usize,
) -> String {
    let r = node_root.display();
    let nodes: String = (0..count)
        .map(|i| {
            format!(
                "[[node]]\nname = \"{}\"\naddress = \"{}\"\n\n",
                NODE_NAMES[i], NODE_IPS[i]
            )
        })
        .collect();
    // The ProxySQL lab's backend is a real MariaDB beside the lab's banner server.
    let (backend_port, proxy_dir) = if profile == "haproxy" {
        (3306, "etc/haproxy")
    } else {
        (PROXYSQL_BACKEND_PORT, "etc")
    };
    let mode_table = match mode {
        "aws-eip" => format!("[aws]\neip_allocation_id = \"{}\"\nregion = \"{REGION}\"\nendpoint_url = \"http://{AWS_IP}:5000\"\n", world.allocation_id),
        _ => "[vip]\naddress = \"192.0.2.50/24\"\ninterface = \"eth0\"\n".to_string(),
    };
    format!(
        "name = \"lab\"\nmode = \"{mode}\"\nprofile = \"{profile}\"\n\n{nodes}[[backend]]\naddress = \"{AWS_IP}:{backend_port}\"\n\n{mode_table}\n[vrrp]\nvirtual_router_id = 51\ninterface = \"eth0\"\n{extra}\n[check]\n# keepalived's process connector does not work inside a network namespace.\ntrack_process = false\n\n[paths]\nkeepalived_dir = \"{r}/etc/keepalived\"\nconfig_dir = \"{r}/etc/hakit\"\nstate_dir = \"{r}/var/lib/hakit\"\nscript_dir = \"{r}/usr/local/libexec/hakit\"\nlog_dir = \"{r}/var/log/hakit\"\nrun_dir = \"{r}/run/hakit\"\ntmpfiles_dir = \"{r}/etc/tmpfiles.d\"\nproxy_config_dir = \"{r}/{proxy_dir}\"\nnetwork_dir = \"{r}/etc/systemd/network\"\n",
    )
}

/// This test build's hakit at `path` (a hard link where possible: the debug binary is big).
fn install_hakit_at(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("bin dir");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_hakit"), path).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_hakit"), path).expect("copy hakit");
    }
}

/// A lab of `count` nodes (2 or 3), named n1.. in priority order.
pub(crate) fn lab(name: &str, mode: &str, vrrp_extra: &str, count: usize) -> Option<Lab> {
    lab_with(name, mode, "haproxy", vrrp_extra, count)
}

/// The same with `profile` (a shipped name, or a profile file in the lab's directory).
pub(crate) fn lab_with(
    name: &str,
    mode: &str,
    profile: &str,
    vrrp_extra: &str,
    count: usize,
) -> Option<Lab> {
    if !must_run_privileged("the end-to-end lab (network namespaces)") {
        return None;
    }
    let turn = crate::common::heavy_lab_turn();
    for tool in [
        "keepalived",
        "haproxy",
        "moto_server",
        "socat",
        "iptables",
        "unshare",
    ] {
        if !require_tool(tool) {
            return None;
        }
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("e2e")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    secure_dir(&dir);
    let (bridge, aws, client, node_ns, mut daemons, endpoint) = build_network(&dir, name, count);
    let mut world = prepare(&endpoint);
    add_instances(&endpoint, &mut world, count);
    let secrets = dir.join("secrets.toml");
    std::fs::write(&secrets, TEST_SECRETS).expect("secrets");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let mut nodes = Vec::new();
    let lab_prefix = prefix(name);
    for (i, ns) in node_ns.into_iter().enumerate() {
        let name = NODE_NAMES[i];
        let root = dir.join(name);
        secure_dir(&root.join("etc/keepalived"));
        secure_dir(&root.join("etc/haproxy"));
        std::fs::write(
            root.join("etc/keepalived/keepalived.conf"),
            "# hand-made, before hakit\n",
        )
        .expect("seed");
        daemons.push(imds_in(&ns.0, name, "eth0", NODE_IPS[i], &world, i, &dir));
        if mode == "aws-eip" {
            daemons.push(hotplug_in(
                &ns.0,
                name,
                &format!("http://{AWS_IP}:5000"),
                &world.instances[i],
                &format!("{lab_prefix}{name}"),
                &bridge.0,
                &dir,
            ));
        }
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            cluster_file(mode, profile, &root, &world, vrrp_extra, count),
        )
        .expect("config");
        let bin = dir.join("opt").join(name).join("bin/hakit");
        install_hakit_at(&bin);
        nodes.push(Node {
            name,
            ns,
            root,
            config,
            bin,
            keepalived: None,
            haproxy: None,
            proxysql: None,
            events_fifo: None,
        });
    }
    for node in &nodes {
        wait_until(
            "IMDS in the node namespace",
            Duration::from_secs(20),
            || {
                node.ns
                    .exec(&[
                        "python3",
                        "-c",
                        "import socket; socket.create_connection(('169.254.169.254', 80), 0.5)",
                    ])
                    .output()
                    .is_ok_and(|o| o.status.success())
            },
        );
    }
    let _ = secrets;
    Some(Lab {
        dir,
        endpoint,
        world,
        nodes,
        client,
        _daemons: daemons,
        _aws: aws,
        _bridge: bridge,
        _turn: turn,
    })
}

impl Lab {
    pub(crate) fn setup(&self, i: usize, role: &str) {
        let n = &self.nodes[i];
        let secrets = self.dir.join("secrets.toml").display().to_string();
        let config = n.config.display().to_string();
        let mut args = vec![
            "setup",
            // The lab's nodes start with a hand-made keepalived.conf, replaced on purpose.
            "--yes",
            "--role",
            role,
            "--no-start",
            "--config",
            &config,
            "--secrets",
            &secrets,
        ];
        // With several backups each says which node it is; a pair's backup needs not.
        if self.nodes.len() > 2 {
            args.extend(["--node", n.name]);
        }
        let out = n.hakit(&args);
        ok(out, &format!("hakit setup on {}", n.name));
    }

    pub(crate) fn rollback(&self, i: usize) {
        let n = &self.nodes[i];
        ok(
            n.hakit(&["rollback", "--config", &n.config.display().to_string()]),
            &format!("hakit rollback on {}", n.name),
        );
    }

    pub(crate) fn holder(&self) -> Option<String> {
        eip_state(&self.endpoint, &self.world.allocation_id).1
    }

    /// The lab's ENIs carrying tag `key` = `value`, as the emulator describes them.
    pub(crate) fn enis_tagged(
        &self,
        key: &str,
        value: &str,
    ) -> Vec<hakit_cloud::sdk::types::NetworkInterface> {
        let rt = runtime();
        let ec2 = sdk_client(&rt, &self.endpoint);
        let filter = hakit_cloud::sdk::types::Filter::builder()
            .name(format!("tag:{key}"))
            .values(value)
            .build();
        let out = rt
            .block_on(ec2.describe_network_interfaces().filters(filter).send())
            .expect("describe");
        out.network_interfaces().to_vec()
    }

    pub(crate) fn eni_of(&self, node: &str) -> (String, String) {
        let enis = self.enis_tagged("hakit:node", node);
        let eni = enis.first().expect("the node's ENI");
        (
            eni.network_interface_id().expect("id").to_string(),
            eni.private_ip_address().expect("ip").to_string(),
        )
    }

    pub(crate) fn hakit_enis(&self) -> usize {
        self.enis_tagged("hakit:cluster", "lab").len()
    }

    /// Cut (or restore) VRRP, IP protocol 112, on both nodes; everything else still flows.
    pub(crate) fn vrrp_link(&self, up: bool) {
        let op = if up { "-D" } else { "-I" };
        for node in &self.nodes {
            let out = node
                .ns
                .exec(&["iptables", op, "INPUT", "-p", "vrrp", "-j", "DROP"])
                .output()
                .expect("iptables");
            ok(out, "iptables");
        }
    }

    /// keepalived on n1 first, until it is VRRP master (it holds `marker`, within
    /// `limit`), then on every other node: with nopreempt, whichever node is healthy first
    /// becomes master, so the order decides.
    pub(crate) fn start_keepalived_n1_first(&mut self, marker: &str, limit: Duration) {
        self.nodes[0].start_keepalived();
        wait_until("n1 to become VRRP master", limit, || {
            self.nodes[0].holds_marker(marker)
        });
        for node in &mut self.nodes[1..] {
            node.start_keepalived();
        }
    }

    pub(crate) fn start_proxies(&mut self) {
        for node in &mut self.nodes {
            node.start_haproxy();
        }
        for node in &self.nodes {
            wait_until("the proxy to listen", Duration::from_secs(10), || {
                node.ns
                    .exec(&[
                        "timeout",
                        "1",
                        "bash",
                        "-c",
                        "exec 3<>/dev/tcp/127.0.0.1/3306",
                    ])
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
        }
    }

    /// The client connects to `ip`:3306 and gets the database's banner through a proxy.
    pub(crate) fn client_reaches(&self, ip: &str) -> bool {
        self.client_attempt(ip).is_ok()
    }

    /// One connection from the client to `ip`:3306; what went wrong when it did not greet.
    pub(crate) fn client_attempt(&self, ip: &str) -> Result<(), String> {
        let script = format!("exec 3<>/dev/tcp/{ip}/3306 && head -c 18 <&3");
        let started = Instant::now();
        let out = self
            .client
            .exec(&["timeout", "2", "bash", "-c", &script])
            .output()
            .map_err(|e| format!("spawning the client: {e}"))?;
        if out.status.success() && out.stdout.starts_with(b"hakit-lab-database") {
            return Ok(());
        }
        Err(format!(
            "{} after {:?}, stdout {:?}, stderr {:?}",
            out.status,
            started.elapsed(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }

    /// The client reaches `ip`:3306 within up to 3 tries 0.5 s apart, as a client with a
    /// retry would: on a loaded 2-core machine one connect (bash started in the namespace,
    /// 2 s limit) can miss. Otherwise every try's failure, the client's neighbour table
    /// and each node's addresses and proxy log, for the assertion to print.
    pub(crate) fn client_reach(&self, ip: &str) -> Result<(), String> {
        let mut failures = Vec::new();
        for attempt in 0..3 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500));
            }
            match self.client_attempt(ip) {
                Ok(()) => return Ok(()),
                Err(e) => failures.push(e),
            }
        }
        let mut report = format!(
            "the client could not reach {ip}:3306: {}\nclient neighbours:\n{}",
            failures.join("; "),
            self.client.ip(&["neigh", "show"])
        );
        for node in &self.nodes {
            let log = std::fs::read_to_string(node.root.join("haproxy.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(10).collect();
            report.push_str(&format!(
                "{} addresses:\n{}{} haproxy log (last lines first):\n{}\n",
                node.name,
                node.ns.ip(&["-o", "-4", "addr", "show"]),
                node.name,
                tail.join("\n")
            ));
        }
        Err(report)
    }

    /// The client reaches the proxy through the Elastic IP: at the address it maps to now.
    pub(crate) fn client_reach_eip(&self) -> Result<(), String> {
        let ip = self
            .eip_target()
            .ok_or("the Elastic IP is not associated")?;
        self.client_reach(&ip)
    }

    pub(crate) fn wait_holder(&self, node: &str, what: &str) -> Duration {
        let (eni, _) = self.eni_of(node);
        wait_until(what, Duration::from_secs(20), || {
            self.holder().as_deref() == Some(eni.as_str())
        })
    }

    /// The private address the Elastic IP maps to now, as DescribeAddresses reports its
    /// association (what the internet gateway's 1:1 NAT forwards to).
    pub(crate) fn eip_target(&self) -> Option<String> {
        eip_private_ip(&self.endpoint, &self.world.allocation_id)
    }

    /// For `window`, polled every 100 ms: the Elastic IP stays on `node`'s ENI and no other
    /// running node is VRRP master (no flapping). A SIGKILLed keepalived leaves its marker
    /// behind: that node is dead, not master.
    pub(crate) fn assert_stays(&self, node: &str, window: Duration, why: &str) {
        let (eni, _) = self.eni_of(node);
        let start = Instant::now();
        while start.elapsed() < window {
            let holder = self.holder();
            assert_eq!(
                holder.as_deref(),
                Some(eni.as_str()),
                "{why}: the EIP left {node} after {:?}",
                start.elapsed()
            );
            for other in self
                .nodes
                .iter()
                .filter(|n| n.name != node && n.keepalived.is_some())
            {
                assert!(
                    !other.holds_marker(MARKER),
                    "{why}: {} became VRRP master while {node} held the EIP",
                    other.name
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// After rollback on every node: no hakit ENI, the allocation kept and unassociated, and
    /// every node's files as `before` setup.
    pub(crate) fn assert_rolled_back(&self, before: &[BTreeMap<PathBuf, String>]) {
        assert_eq!(self.hakit_enis(), 0, "no hakit ENI left");
        assert_eq!(
            eip_state(&self.endpoint, &self.world.allocation_id),
            (true, None),
            "allocation kept, unassociated"
        );
        for (i, node) in self.nodes.iter().enumerate() {
            let mut after = tree(&node.root);
            // keepalived's and haproxy's own logs and pid files from the lab run.
            after.retain(|p, _| !p.extension().is_some_and(|e| e == "log" || e == "pid"));
            assert_eq!(
                after, before[i],
                "{}'s files are as before setup",
                node.name
            );
        }
    }
}

#[test]
fn aws_eip_failover_lab() {
    let Some(mut lab) = lab("aws", "aws-eip", "", 2) else {
        return;
    };
    let before: Vec<_> = lab.nodes.iter().map(|n| tree(&n.root)).collect();

    // 1. setup both: the Elastic IP lands on n1's ENI.
    lab.setup(0, "master");
    lab.setup(1, "backup");
    // The cluster file names no hakit_bin: each hook runs the binary that ran setup, at
    // the lab's own path, and every EIP move below goes through that hook.
    for n in &lab.nodes {
        let notify = std::fs::read_to_string(n.root.join("usr/local/libexec/hakit/notify.sh"))
            .expect("notify.sh");
        assert!(
            notify.contains(&format!("exec {} notify", n.bin.display())),
            "{notify}"
        );
    }
    let (eni1, ip1) = lab.eni_of("n1");
    let (eni2, ip2) = lab.eni_of("n2");
    assert_eq!(
        lab.holder().as_deref(),
        Some(eni1.as_str()),
        "setup associates the EIP on the master"
    );
    // Proxies first, then the master's keepalived, then the backup's: with nopreempt
    // whichever node is healthy first becomes master, so the order decides.
    lab.start_proxies();
    lab.start_keepalived_n1_first("169.254.250.51", Duration::from_secs(20));
    wait_until("n2 to report backup", Duration::from_secs(20), || {
        lab.nodes[1].notified("state=backup")
    });
    lab.wait_holder("n1", "the EIP on n1 after keepalived started");
    if let Err(why) = lab.client_reach(&ip1) {
        panic!("the client reaches the proxy through n1: {why}");
    }

    // 4. node death: SIGKILL keepalived on n1 (no priority-0 advert).
    lab.nodes[0].kill_keepalived();
    let took = lab.wait_holder("n2", "the EIP to move to n2 after n1's keepalived died");
    eprintln!("figure: node death -> EIP on n2 after {took:?} (polled)");
    if let Err(why) = lab.client_reach(&ip2) {
        panic!("the client reaches the proxy through n2: {why}");
    }

    // 3. n1 comes back; nopreempt keeps the address on n2.
    lab.nodes[0].start_keepalived();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        lab.holder().as_deref(),
        Some(eni2.as_str()),
        "nopreempt: a returning node does not take the address back"
    );

    // 2. the proxy dies on the master (n2): the health check moves the address to n1.
    lab.nodes[1].kill_haproxy();
    let took = lab.wait_holder("n1", "the EIP to move to n1 after n2's proxy died");
    eprintln!("figure: proxy death -> EIP on n1 after {took:?} (polled)");
    if let Err(why) = lab.client_reach(&ip1) {
        panic!("the client reaches the proxy through n1 again: {why}");
    }
    lab.nodes[1].start_haproxy();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        lab.holder().as_deref(),
        Some(eni1.as_str()),
        "nopreempt again after the proxy came back"
    );

    // 5. split brain: VRRP cut between the nodes while both reach the EC2 API. n1 holds
    // the address and stays master; n2 hears no adverts and becomes master too, taking
    // the address once; n1's reconcile sees n2's fresh master report and leaves it there.
    // History from EC2's side: the holder sampled every 100 ms.
    // Each node's associations, as its failover log has them (reconcile's other outcomes,
    // such as "held-by-another-master", are lines too, but move nothing).
    let associations = |n: &Node| {
        std::fs::read_to_string(n.root.join("var/log/hakit/failover.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("state=master action=associated "))
            .count()
    };
    let n1_associations = associations(&lab.nodes[0]);
    let n2_associations = associations(&lab.nodes[1]);
    let mut history = vec![lab.holder()];
    assert_eq!(
        history[0].as_deref(),
        Some(eni1.as_str()),
        "n1 holds the EIP before the cut"
    );
    let mut both_masters = false;
    lab.vrrp_link(false);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        let now = lab.holder();
        if history.last() != Some(&now) {
            history.push(now);
        }
        both_masters |= lab.nodes.iter().all(|n| n.holds_marker(MARKER));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        both_masters,
        "the cut made no split brain: both nodes were never VRRP master at once"
    );
    assert_eq!(
        history,
        vec![Some(eni1.clone()), Some(eni2.clone())],
        "EC2's view during the split: the EIP moves once, to the node that became master"
    );
    assert_eq!(
        associations(&lab.nodes[1]),
        n2_associations + 1,
        "n2 logged its one association"
    );
    assert_eq!(
        associations(&lab.nodes[0]),
        n1_associations,
        "n1 left the address with n2, the other master"
    );
    lab.vrrp_link(true);
    wait_until(
        "exactly one master after the link heals",
        Duration::from_secs(20),
        || {
            lab.nodes
                .iter()
                .filter(|n| n.holds_marker("169.254.250.51"))
                .count()
                == 1
        },
    );
    let master = lab
        .nodes
        .iter()
        .find(|n| n.holds_marker("169.254.250.51"))
        .map(|n| n.name)
        .expect("a master");
    let heal = Instant::now();
    lab.wait_holder(master, "the single master to hold the EIP after the heal");
    // Since the cut, at most two moves: to n2 during the split, back to the single master.
    let mut after = history.last().cloned().flatten();
    let mut moves = history.len() - 1;
    while heal.elapsed() < Duration::from_secs(6) {
        let now = lab.holder();
        if now != after {
            moves += 1;
            after = now;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        moves <= 2,
        "the EIP changed hands {moves} times for one split"
    );
    let other = lab
        .nodes
        .iter()
        .find(|n| n.name != master)
        .expect("the other node");
    let last_line = std::fs::read_to_string(other.root.join("var/log/hakit/failover.log"))
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| l.contains("state="))
        .unwrap_or_default()
        .to_string();
    assert!(
        last_line.contains("state=backup"),
        "{} after the heal: {last_line}",
        other.name
    );

    // status, from the master's namespace.
    let m = lab
        .nodes
        .iter()
        .find(|n| n.name == master)
        .expect("master node");
    let status = ok(
        m.hakit(&[
            "status",
            "--output",
            "json",
            "--config",
            &m.config.display().to_string(),
        ]),
        "status",
    );
    let status: serde_json::Value = serde_json::from_str(&status).expect("json");
    assert_eq!(status["vrrp_state"], "master", "{status}");
    assert_eq!(status["address"]["holder"], master, "{status}");
    assert_eq!(status["proxy"]["accepting"], true, "{status}");

    // 7. rollback on both: no ENI left, the EIP still allocated and unassociated, files as before.
    for i in 0..2 {
        lab.nodes[i].stop_keepalived();
        lab.nodes[i].kill_haproxy();
    }
    lab.rollback(1);
    lab.rollback(0);
    lab.assert_rolled_back(&before);
    let _ = (&eni2, &ip2);
}

/// The private address Elastic IP `allocation` maps to now (None: unassociated, or EC2 did
/// not answer).
pub(crate) fn eip_private_ip(endpoint: &str, allocation: &str) -> Option<String> {
    let rt = runtime();
    let ec2 = sdk_client(&rt, endpoint);
    let out = rt
        .block_on(ec2.describe_addresses().allocation_ids(allocation).send())
        .ok()?;
    let address = out.addresses().first()?;
    address.network_interface_id().filter(|s| !s.is_empty())?;
    address.private_ip_address().map(str::to_string)
}

/// Whether a client in namespace `ns` gets the lab database's banner from `ip`:3306 (one
/// connect, 2 s at most).
pub(crate) fn banner_from(ns: &str, ip: &str) -> bool {
    let script = format!("exec 3<>/dev/tcp/{ip}/3306 && head -c 18 <&3");
    Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "2", "bash", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"hakit-lab-database"))
}

/// How the lab's EC2 endpoint answers the nodes from now on: "throttle", "error", "slow",
/// or "" (as moto does). The test process's own view of EC2 is never affected.
pub(crate) fn ec2_fault(lab_dir: &Path, mode: &str) {
    std::fs::write(lab_dir.join("ec2-fault"), mode).expect("ec2 fault mode");
}

/// EC2's view of the Elastic IP, sampled every 100 ms in the background: each distinct
/// holder in turn (None: unassociated), until `stop`.
pub(crate) struct HolderSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<Option<String>>>>,
}

impl HolderSampler {
    pub(crate) fn start(lab: &Lab) -> HolderSampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (endpoint, allocation) = (lab.endpoint.clone(), lab.world.allocation_id.clone());
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen: Vec<Option<String>> = Vec::new();
            // Bounded like every lab loop: the lab never runs this long.
            let started = Instant::now();
            while !flag.load(std::sync::atomic::Ordering::Relaxed)
                && started.elapsed() < Duration::from_secs(600)
            {
                let now = eip_state(&endpoint, &allocation).1;
                if seen.last() != Some(&now) {
                    seen.push(now);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        });
        HolderSampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stop sampling; the holders seen, in order.
    pub(crate) fn stop(mut self) -> Vec<Option<String>> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for HolderSampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Three nodes in priority order, with `preempt = true`: n1's proxy dies and the Elastic
/// IP goes to n2, the next in priority, never n3, and stays; n1's proxy back takes it back
/// (preempt in aws-eip mode); n1's keepalived SIGKILLed sends it to n2 again, and n2's
/// proxy dying then sends it to n3; rollback on all three.
#[test]
fn aws_eip_three_node_lab() {
    let Some(mut lab) = lab("three", "aws-eip", "preempt = true\n", 3) else {
        return;
    };
    let before: Vec<_> = lab.nodes.iter().map(|n| tree(&n.root)).collect();
    lab.setup(0, "master");
    lab.setup(1, "backup");
    lab.setup(2, "backup");
    // What hakit rendered for three nodes: priorities falling in file order, every other
    // node a unicast peer, only the first node starting as MASTER (preempt).
    for (i, node) in lab.nodes.iter().enumerate() {
        let conf = std::fs::read_to_string(node.root.join("etc/keepalived/keepalived.conf"))
            .expect("keepalived.conf");
        let peers: Vec<&str> = NODE_IPS
            .iter()
            .copied()
            .filter(|ip| *ip != NODE_IPS[i])
            .collect();
        let expected = [
            format!("priority {}\n", 150 - 50 * i),
            format!("unicast_src_ip {}\n", NODE_IPS[i]),
            format!(
                "unicast_peer {{\n        {}\n        {}\n    }}",
                peers[0], peers[1]
            ),
            format!("state {}\n", if i == 0 { "MASTER" } else { "BACKUP" }),
        ];
        for line in expected {
            assert!(
                conf.contains(&line),
                "{}: no {line:?} in\n{conf}",
                node.name
            );
        }
        assert!(!conf.contains("nopreempt"), "{}: {conf}", node.name);
    }
    let eni1 = lab.eni_of("n1").0;
    assert_eq!(
        lab.holder().as_deref(),
        Some(eni1.as_str()),
        "setup associates the EIP on the master"
    );
    lab.start_proxies();
    lab.start_keepalived_n1_first(MARKER, Duration::from_secs(20));
    wait_until(
        "n2 and n3 to report backup",
        Duration::from_secs(20),
        || lab.nodes[1].notified("state=backup") && lab.nodes[2].notified("state=backup"),
    );
    lab.wait_holder("n1", "the EIP on n1 after keepalived started");
    if let Err(why) = lab.client_reach_eip() {
        panic!("the client reaches the proxy through the EIP on n1: {why}");
    }
    // From EC2's side, until n3 is the only node left: n3's ENI never holds the address.
    let eni3 = lab.eni_of("n3").0;
    let sampler = HolderSampler::start(&lab);

    // n1's proxy dies: the EIP goes to n2, the next in priority, and stays there.
    lab.nodes[0].kill_haproxy();
    let took = lab.wait_holder("n2", "the EIP to move to n2 after n1's proxy died");
    eprintln!("figure: three nodes, proxy death -> EIP on n2 after {took:?} (polled)");
    lab.assert_stays("n2", Duration::from_secs(6), "n1's proxy down");
    // n3 never moved the address: every association, by a transition or by reconcile, is a
    // line in the node's failover log. (Two backups whose timers expire within their skew
    // gap may both enter MASTER for a moment; the loser's backup transition then supersedes
    // its master transition in hakit's serialized notify before that calls EC2.)
    let n3_log_path = lab.nodes[2].root.join("var/log/hakit/failover.log");
    let n3_log = || std::fs::read_to_string(&n3_log_path).unwrap_or_default();
    assert!(
        !lab.nodes[2].notified("action=associated"),
        "n3 moved the EIP while n2 could take over:\n{}",
        n3_log()
    );
    if let Err(why) = lab.client_reach_eip() {
        panic!("the client reaches the proxy through the EIP on n2: {why}");
    }

    // preempt: n1's proxy back, the EIP returns to n1 and n2 steps down.
    lab.nodes[0].start_haproxy();
    let took = wait_until(
        "the EIP back on n1 (preempt) and n2 no longer master",
        Duration::from_secs(30),
        || {
            lab.holder().as_deref() == Some(eni1.as_str())
                && lab.nodes[0].holds_marker(MARKER)
                && !lab.nodes[1].holds_marker(MARKER)
        },
    );
    eprintln!("figure: three nodes, preempt -> EIP back on n1 after {took:?} (polled)");
    if let Err(why) = lab.client_reach_eip() {
        panic!("the client reaches the proxy through the EIP back on n1: {why}");
    }

    // node death of n1 (SIGKILL, no priority-0 advert): n2 again, not n3.
    lab.nodes[0].kill_keepalived();
    let took = lab.wait_holder("n2", "the EIP to move to n2 after n1's keepalived died");
    eprintln!("figure: three nodes, node death -> EIP on n2 after {took:?} (polled)");
    lab.assert_stays("n2", Duration::from_secs(3), "n1's keepalived dead");
    assert!(
        !lab.nodes[2].notified("action=associated"),
        "n3 moved the EIP while n2 could take over:\n{}",
        n3_log()
    );

    let seen = sampler.stop();
    assert!(
        !seen.contains(&Some(eni3.clone())),
        "EC2 showed the EIP on n3 while n1 or n2 could hold it: {seen:?}"
    );
    assert!(
        seen.len() >= 4,
        "the sampler saw n1 -> n2 -> n1 -> n2: {seen:?}"
    );

    // n2's proxy dies too: the EIP goes to n3, the last node left.
    lab.nodes[1].kill_haproxy();
    let took = lab.wait_holder("n3", "the EIP to move to n3 after n2's proxy died");
    eprintln!("figure: three nodes, second failure -> EIP on n3 after {took:?} (polled)");
    // The notify logs its line once the association is done.
    wait_until(
        "n3's failover log to show master",
        Duration::from_secs(10),
        || lab.nodes[2].notified("state=master"),
    );
    if let Err(why) = lab.client_reach_eip() {
        panic!("the client reaches the proxy through the EIP on n3: {why}");
    }

    // rollback on all three.
    for node in &mut lab.nodes {
        node.stop_keepalived();
        node.kill_haproxy();
    }
    for i in (0..3).rev() {
        lab.rollback(i);
    }
    lab.assert_rolled_back(&before);
}

#[test]
fn l2_vip_failover_lab() {
    let Some(mut lab) = lab("l2", "l2-vip", "preempt = true\n", 2) else {
        return;
    };
    lab.setup(0, "master");
    lab.setup(1, "backup");
    lab.start_proxies();
    lab.start_keepalived_n1_first("192.0.2.50", Duration::from_secs(20));
    if let Err(why) = lab.client_reach("192.0.2.50") {
        panic!("the client reaches the proxy on the VIP: {why}");
    }
    lab.nodes[0].kill_haproxy();
    let took = wait_until("the VIP on n2", Duration::from_secs(20), || {
        lab.nodes[1].holds_marker("192.0.2.50") && !lab.nodes[0].holds_marker("192.0.2.50")
    });
    eprintln!("figure: l2-vip proxy death -> VIP on n2 after {took:?} (polled)");
    wait_until(
        "the client on the VIP via n2",
        Duration::from_secs(10),
        || lab.client_reaches("192.0.2.50"),
    );
    // preempt: n1's proxy back, the VIP returns.
    lab.nodes[0].start_haproxy();
    wait_until(
        "the VIP back on n1 (preempt)",
        Duration::from_secs(20),
        || lab.nodes[0].holds_marker("192.0.2.50"),
    );
    for i in 0..2 {
        lab.nodes[i].stop_keepalived();
        lab.nodes[i].kill_haproxy();
        lab.rollback(i);
    }
}

/// aws-cli's real path: keepalived runs scripts with a bare environment, where a pyenv
/// shim would not work.
fn aws_cli() -> String {
    let out = Command::new("python3")
        .args(["-c", "import os, shutil, sys; p = shutil.which('aws') or 'aws'; print(os.path.join(os.path.dirname(sys.executable), 'aws') if '/shims/' in p else p)"])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The seed's keepalived.conf (seed 004: unicast, advert_int 3, `killall -0 haproxy` every
/// 2 s with weight 20, aws-cli in notify_master), rendered by hand for this lab's node.
fn seed_keepalived_conf(lab: &Lab, i: usize) -> String {
    let (eni, _) = lab.eni_of(NODE_NAMES[i]);
    let script = lab.nodes[i].root.join("seed-vrrp.sh");
    let body = format!(
        "#!/bin/bash\n# seed 004's vrrp.sh, with today's aws-cli instead of ec2-associate-address\nexport HOME=/root AWS_ACCESS_KEY_ID=lab AWS_SECRET_ACCESS_KEY=lab\n{} --region {REGION} --endpoint-url http://{AWS_IP}:5000 ec2 associate-address --network-interface-id {eni} --allocation-id {} --allow-reassociation >/dev/null\n",
        aws_cli(),
        lab.world.allocation_id
    );
    std::fs::write(&script, body).expect("seed script");
    // The seed's `killall -0 haproxy` would see the other node's haproxy here (the lab's
    // nodes share one PID namespace); this checks this node's haproxy the same way.
    let check = lab.nodes[i].root.join("seed-check.sh");
    let check_body = format!(
        "#!/bin/sh\nkill -0 \"$(cat {})\" 2>/dev/null\n",
        lab.nodes[i].root.join("haproxy.pid").display()
    );
    std::fs::write(&check, check_body).expect("seed check");
    std::fs::set_permissions(&check, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let (state, priority, me, peer) = if i == 0 {
        ("MASTER", 102, NODE_IPS[0], NODE_IPS[1])
    } else {
        ("BACKUP", 101, NODE_IPS[1], NODE_IPS[0])
    };
    format!(
        "# As the seed ran it: scripts as root (no keepalived_script user on its hosts).\nglobal_defs {{\n    script_user root\n}}\n\nvrrp_script haproxy-check {{\n    script \"{}\"\n    interval 2\n    weight 20\n}}\n\nvrrp_instance haproxy-vip {{\n    state {state}\n    priority {priority}\n    interface eth0\n    virtual_router_id 47\n    advert_int 3\n    unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}\n    notify_master \"{} start\"\n    virtual_ipaddress {{\n        169.254.250.47/32 dev lo\n    }}\n    track_script {{\n        haproxy-check weight 20\n    }}\n}}\n",
        check.display(),
        script.display()
    )
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Time from the fault until DescribeAddresses shows n2's ENI, polled every 20 ms.
fn time_to_n2(lab: &Lab, eni2: &str, limit: Duration) -> f64 {
    let start = Instant::now();
    while start.elapsed() < limit {
        if lab.holder().as_deref() == Some(eni2) {
            return start.elapsed().as_secs_f64();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the EIP did not reach n2 within {limit:?}");
}

/// Back to the steady state: both proxies and keepalived up, n1 master holding the address.
fn reset_to_n1(lab: &mut Lab, eni1: &str, marker: &str) {
    for node in &mut lab.nodes {
        node.stop_keepalived();
        node.kill_haproxy();
    }
    lab.start_proxies();
    lab.nodes[0].start_keepalived();
    wait_until("n1 master", Duration::from_secs(30), || {
        lab.nodes[0].holds_marker(marker)
    });
    wait_until("the EIP on n1", Duration::from_secs(30), || {
        lab.holder().as_deref() == Some(eni1)
    });
    lab.nodes[1].start_keepalived();
    // Let n2 settle as backup before the fault.
    std::thread::sleep(Duration::from_secs(4));
}

/// `bench/failover.sh` runs this: hakit's defaults against the seed's configuration, both in
/// the lab, for a killed proxy and a SIGKILLed keepalived. Prints figures; asserts only that
/// the address moved.
#[test]
#[ignore = "benchmark: run with bench/failover.sh"]
fn failover_benchmark() {
    let runs: usize = std::env::var("HAKIT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let Some(mut lab) = lab("bench", "aws-eip", "", 2) else {
        return;
    };
    lab.setup(0, "master");
    lab.setup(1, "backup");
    let (eni1, _) = lab.eni_of("n1");
    let (eni2, _) = lab.eni_of("n2");
    let hakit_confs: Vec<String> = lab
        .nodes
        .iter()
        .map(|n| {
            std::fs::read_to_string(n.root.join("etc/keepalived/keepalived.conf"))
                .expect("hakit conf")
        })
        .collect();
    let seed_confs: Vec<String> = (0..2).map(|i| seed_keepalived_conf(&lab, i)).collect();
    let mut results: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    for (config, confs, marker) in [
        ("hakit", &hakit_confs, "169.254.250.51"),
        ("seed", &seed_confs, "169.254.250.47"),
    ] {
        for (i, conf) in confs.iter().enumerate() {
            std::fs::write(
                lab.nodes[i].root.join("etc/keepalived/keepalived.conf"),
                conf,
            )
            .expect("conf");
        }
        for scenario in ["proxy-death", "node-death"] {
            for run in 0..runs {
                reset_to_n1(&mut lab, &eni1, marker);
                match scenario {
                    "proxy-death" => lab.nodes[0].kill_haproxy(),
                    _ => lab.nodes[0].kill_keepalived(),
                }
                let t = time_to_n2(&lab, &eni2, Duration::from_secs(60));
                eprintln!("{config} {scenario} run {}: {t:.2} s", run + 1);
                results.entry((scenario, config)).or_default().push(t);
            }
        }
    }
    for node in &mut lab.nodes {
        node.stop_keepalived();
        node.kill_haproxy();
    }
    // Put hakit's files back so rollback finds them as setup wrote them.
    for (i, conf) in hakit_confs.iter().enumerate() {
        std::fs::write(
            lab.nodes[i].root.join("etc/keepalived/keepalived.conf"),
            conf,
        )
        .expect("conf");
    }
    lab.rollback(1);
    lab.rollback(0);
    println!("runs={runs} per scenario and configuration; fault -> DescribeAddresses shows the new ENI, polled every 20 ms");
    for scenario in ["proxy-death", "node-death"] {
        let mut h = results
            .get(&(scenario, "hakit"))
            .cloned()
            .unwrap_or_default();
        let mut s = results
            .get(&(scenario, "seed"))
            .cloned()
            .unwrap_or_default();
        let (hmax, smax) = (
            h.iter().cloned().fold(0.0, f64::max),
            s.iter().cloned().fold(0.0, f64::max),
        );
        let (hm, sm) = (median(&mut h), median(&mut s));
        println!("{scenario}: hakit median {hm:.2} s max {hmax:.2} s; seed median {sm:.2} s max {smax:.2} s");
        println!(
            "failover {scenario} hakit_median_s={hm:.2} seed_median_s={sm:.2} ratio={:.1}",
            sm / hm
        );
    }
}

/// A node namespace's network state that setup touches: interface names, IPv4 addresses,
/// policy rules and every IPv4 route (all tables).
pub(crate) fn net_state(ns: &Netns) -> String {
    let links: Vec<String> = ns
        .ip(&["-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect();
    let addrs: Vec<String> = ns
        .ip(&["-o", "-4", "addr", "show"])
        .lines()
        .map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
        .collect();
    format!(
        "links: {}\naddrs:\n{}\nrules:\n{}routes:\n{}",
        links.join(" "),
        addrs.join("\n"),
        ns.ip(&["-4", "rule", "show"]),
        ns.ip(&["-4", "route", "show", "table", "all"])
    )
}

/// The policy rules hakit adds for an ENI's interface look up a table from 10000 up.
fn hakit_rules(ns: &Netns) -> Vec<String> {
    ns.ip(&["-4", "rule", "show"])
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .skip_while(|w| *w != "lookup")
                .nth(1)
                .and_then(|t| t.parse::<u32>().ok())
                .is_some_and(|t| (10_000..11_000).contains(&t))
        })
        .map(str::to_string)
        .collect()
}

/// The issue's crash tests on the real binary in aws-eip mode: `hakit setup --role master`
/// in n1's namespace, SIGKILLed by its test hook right after each step k in turn; each time
/// `hakit rollback` leaves no hakit ENI in the emulator, the Elastic IP allocated and
/// unassociated, n1's file tree byte-identical and its namespace without the ENI's
/// interface, address, routes or policy rule. Then a fresh setup succeeds and rolls back.
#[test]
fn aws_eip_sigkill_after_every_setup_step_then_rollback_restores_host_and_emulator() {
    use std::os::unix::process::ExitStatusExt;
    let Some(lab) = lab("crash", "aws-eip", "", 2) else {
        return;
    };
    let n = &lab.nodes[0];
    let config = n.config.display().to_string();
    let secrets = lab.dir.join("secrets.toml").display().to_string();
    let before = tree(&n.root);
    let net_before = net_state(&n.ns);
    assert!(hakit_rules(&n.ns).is_empty(), "{net_before}");
    let plan = ok(
        n.hakit(&[
            "plan",
            "--role",
            "master",
            "--output",
            "json",
            "--config",
            &config,
            "--secrets",
            &secrets,
        ]),
        "hakit plan",
    );
    let plan: serde_json::Value = serde_json::from_str(&plan).expect("plan json");
    let steps = plan["steps"].as_array().expect("steps").len();
    let names: Vec<String> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["action"].as_str().expect("action").to_string())
        .collect();
    let aws_steps = names
        .iter()
        .filter(|a| a.ends_with("-eni") || *a == "associate-elastic-ip")
        .count();
    assert!(
        steps >= 10 && aws_steps == 4,
        "an aws-eip plan with its ENI steps: {names:#?}"
    );
    let setup = |crash: Option<usize>| {
        let mut cmd = n.ns.exec(&[env!("CARGO_BIN_EXE_hakit")]);
        cmd.args([
            "setup",
            // The lab's nodes start with a hand-made keepalived.conf, replaced on purpose.
            "--yes",
            "--role",
            "master",
            "--no-start",
            "--config",
            &config,
            "--secrets",
            &secrets,
        ]);
        if let Some(k) = crash {
            cmd.env("HAKIT_TEST_CRASH_AFTER_STEP", k.to_string());
        }
        cmd.output().expect("hakit setup")
    };
    let check_clean = |when: &str| {
        assert_eq!(lab.hakit_enis(), 0, "{when}: a hakit ENI is left");
        assert_eq!(
            eip_state(&lab.endpoint, &lab.world.allocation_id),
            (true, None),
            "{when}: the allocation must stay, unassociated"
        );
        assert_eq!(tree(&n.root), before, "{when}: n1's files differ");
        assert_eq!(
            hakit_rules(&n.ns),
            Vec::<String>::new(),
            "{when}: a hakit policy rule is left"
        );
        // The hotplug helper unplugs a detached ENI's interface within a poll or two.
        let mut now = String::new();
        let waited = Instant::now();
        while waited.elapsed() < Duration::from_secs(10) {
            now = net_state(&n.ns);
            if now == net_before {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{when}: n1's namespace differs after 10 s\nbefore:\n{net_before}\nnow:\n{now}");
    };
    let started = Instant::now();
    for k in 1..=steps {
        let out = setup(Some(k));
        assert_eq!(
            out.status.signal(),
            Some(9),
            "step {k} ({}): setup should have been SIGKILLed: {:?}\n{}{}",
            names[k - 1],
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let named = format!("test crash: killed at after step {k}\n");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&named),
            "step {k}: killed, but not at the named point:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The crash came after step k's side effect: what it left is there to undo.
        let done = |action: &str| names[..k].iter().any(|a| a == action);
        assert_ne!(tree(&n.root), before, "step {k}: the journal at least");
        assert_eq!(
            lab.hakit_enis(),
            usize::from(done("create-eni")),
            "step {k}"
        );
        assert_eq!(
            !hakit_rules(&n.ns).is_empty(),
            done("configure-eni"),
            "step {k}"
        );
        assert_eq!(
            lab.holder().is_some(),
            done("associate-elastic-ip"),
            "step {k}"
        );
        let rb = n.hakit(&["rollback", "--config", &config]);
        assert!(
            rb.status.success(),
            "step {k} ({}): rollback failed:\n{}{}",
            names[k - 1],
            String::from_utf8_lossy(&rb.stdout),
            String::from_utf8_lossy(&rb.stderr)
        );
        check_clean(&format!("after a crash at step {k} ({})", names[k - 1]));
    }
    let per_crash = started.elapsed() / steps as u32;
    // A fresh full setup after all the crashes: the ENI configured and the EIP on it.
    ok(setup(None), "a fresh setup after the crashes");
    let (eni, ip) = lab.eni_of("n1");
    assert_eq!(lab.holder().as_deref(), Some(eni.as_str()), "the EIP on n1");
    let rules = hakit_rules(&n.ns);
    assert!(
        rules.iter().any(|r| r.contains(&format!("from {ip} "))),
        "the ENI's policy rule after setup: {rules:?}"
    );
    lab.rollback(0);
    check_clean("after the final rollback");
    eprintln!(
        "figure: killed aws-eip setup after each of {steps} steps; rollback left no hakit ENI, the EIP allocated and unassociated, n1's tree byte-identical and no hakit rule or route every time ({:.1} s per crash and rollback, {:.0} s in all)",
        per_crash.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// The proxysql profile as the lab runs it: ProxySQL is the tests' vendored binary, not a
/// package, so this profile installs only keepalived; everything else is the shipped one.
const PROXYSQL_LAB_PROFILE: &str = r#"name = "proxysql-lab"
description = "ProxySQL from the tests' vendored binary"
service = "proxysql"
process = "proxysql"
port = 6033
admin_port = 6032
config_dir = "/etc"
needs_backends = true

[packages]
debian = ["keepalived"]
rhel = ["keepalived"]

[[checks]]
name = "proxy_login"
template = "check_proxysql_login.sh.j2"
user = "root"

[[files]]
template = "proxysql.cnf.j2"
name = "proxysql.cnf"
mode = 0o640
"#;

/// An aws-eip ProxySQL pair with real ProxySQL in front of a real MariaDB: a client logs
/// in through the Elastic IP as the cluster file's user; killing ProxySQL on the master
/// moves the address (the check waits for ProxySQL's greeting) and the client logs in on
/// the backup; rollback leaves no ENI and the nodes' files as they were.
#[test]
fn proxysql_aws_eip_pair_lab() {
    if !must_run_privileged("the ProxySQL lab (network namespaces)") {
        return;
    }
    for tool in ["mariadbd", "mariadb-install-db", "mariadb"] {
        if !require_tool(tool) {
            return;
        }
    }
    let Some(binary) = crate::proxysql_real::proxysql_binary() else {
        return;
    };
    // An absolute path: the check reads the cluster file setup installed, elsewhere.
    let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e/proxysql/proxysql-lab.toml");
    let Some(mut lab) = lab_with(
        "proxysql",
        "aws-eip",
        &profile.display().to_string(),
        "\n[[proxysql.user]]\nname = \"app\"\n",
        2,
    ) else {
        return;
    };
    std::fs::write(&profile, PROXYSQL_LAB_PROFILE).expect("profile");
    let secrets = lab.dir.join("secrets.toml");
    std::fs::write(&secrets, crate::proxysql_real::secrets_with_app()).expect("secrets");
    let db = crate::proxysql_real::Mariadb::start_in(
        &lab.dir.join("mariadb"),
        Some(&lab._aws.0),
        AWS_IP,
        PROXYSQL_BACKEND_PORT,
        &[],
    );
    db.create_users("*.*");
    let before: Vec<_> = lab.nodes.iter().map(|n| tree(&n.root)).collect();

    lab.setup(0, "master");
    lab.setup(1, "backup");
    for i in 0..2 {
        let datadir = lab.dir.join(format!("pxdata-{}", lab.nodes[i].name));
        lab.nodes[i].start_proxysql(&binary, &datadir);
    }
    lab.start_keepalived_n1_first(MARKER, Duration::from_secs(30));
    wait_until("n2 to report backup", Duration::from_secs(20), || {
        lab.nodes[1].notified("state=backup")
    });
    lab.wait_holder("n1", "the EIP on n1 after keepalived started");
    // The client logs in through the Elastic IP as the cluster file's user and reaches
    // the database behind ProxySQL.
    let login = |lab: &Lab| -> Result<String, String> {
        let ip = lab.eip_target().ok_or("the Elastic IP is not associated")?;
        let out = lab
            .client
            .exec(&[
                "mariadb",
                &format!("-h{ip}"),
                "-P6033",
                "-uapp",
                "-pTESTappPW",
                "--connect-timeout=2",
                "-N",
                "-B",
                "-e",
                "SELECT @@port",
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    };
    let through = |lab: &Lab, what: &str| {
        let mut last = Err(String::new());
        for _ in 0..20 {
            last = login(lab);
            if last.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        assert_eq!(
            last,
            Ok(PROXYSQL_BACKEND_PORT.to_string()),
            "{what}: a login through the Elastic IP"
        );
    };
    through(&lab, "n1 master");

    // ProxySQL dies on the master: the greeting check fails, the address moves to n2.
    lab.nodes[0].proxysql = None;
    let took = lab.wait_holder("n2", "the EIP to move to n2 after n1's ProxySQL died");
    eprintln!("figure: ProxySQL death -> EIP on n2 after {took:?} (polled)");
    through(&lab, "n2 master after n1's ProxySQL died");

    for node in &mut lab.nodes {
        node.stop_keepalived();
        node.proxysql = None;
    }
    lab.rollback(1);
    lab.rollback(0);
    lab.assert_rolled_back(&before);
}
