//! An aws-eip pair on two booted Debian 12 containers (systemd as PID 1, systemd-networkd
//! owning the interfaces): moto's EC2 server on the lab bridge (192.0.2.1:5000), an IMDS
//! server of ours at 169.254.169.254 in each container's network namespace, and the
//! namespace lab's hotplug helper playing the hypervisor, so an ENI attached in EC2
//! appears inside the container as an interface with the ENI's MAC. `hakit setup` runs for
//! real on both; the ENI's address, rule and route must survive networkd's reload and
//! reconfigure and a reboot; failover moves the Elastic IP; a rebooted master comes back
//! as backup (nopreempt); rollback leaves no ENI, the Elastic IP allocated and each host
//! as it was.

use crate::booted::{ready, Lab, Node};
use crate::booted_pair::{setup, wait_until, Backend};
use crate::booted_state::{host_state, HostState};
use crate::common::require_tool;
use crate::e2e::{hotplug_in, imds_in, moto_in, Daemon};
use crate::emulator::{eip_state, prepare, runtime, sdk_client, World, REGION};
use std::time::Duration;

const MOTO_IP: &str = "192.0.2.1";
const NODE_IPS: [&str; 2] = ["192.0.2.11", "192.0.2.12"];

pub(crate) fn cluster_file(world: &World) -> String {
    format!(
        "name = \"booted\"\nmode = \"aws-eip\"\nprofile = \"haproxy\"\n\n[[node]]\nname = \"n1\"\naddress = \"{}\"\n\n[[node]]\nname = \"n2\"\naddress = \"{}\"\n\n[[backend]]\naddress = \"192.0.2.1:3306\"\n\n[aws]\neip_allocation_id = \"{}\"\nregion = \"{REGION}\"\nendpoint_url = \"http://{MOTO_IP}:5000\"\n\n[vrrp]\nvirtual_router_id = 52\ninterface = \"host0\"\n# The containers boot in about a second: a rebooted master must hear the current one\n# before it runs VRRP, or it takes the address back despite nopreempt.\nstartup_delay = 3\n",
        NODE_IPS[0], NODE_IPS[1], world.allocation_id
    )
}

/// The lab's EC2 side: moto, each node's IMDS and hotplug helper, and the test's view.
pub(crate) struct Cloud {
    endpoint: String,
    pub world: World,
    _daemons: Vec<Daemon>,
}

impl Cloud {
    pub fn start(lab: &Lab, dir: &std::path::Path) -> Cloud {
        // The VPC router: the first address of each ENI subnet, for the ENIs' own tables.
        for gw in ["192.0.2.65/24", "192.0.2.129/24"] {
            lab_ip(lab, &["addr", "add", gw, "dev", "br0"]);
        }
        let (mut daemons, endpoint) = moto_in(&lab.ns, MOTO_IP, dir);
        let world = prepare(&endpoint);
        for (i, node) in lab.nodes.iter().enumerate() {
            let ns = node.netns();
            // A VPC answers ARP for an address with the MAC of the ENI that owns it; on the
            // lab's plain bridge each interface must answer only for its own addresses.
            netns_ok(
                ns,
                &[
                    "sysctl",
                    "-qw",
                    "net.ipv4.conf.all.arp_ignore=1",
                    "net.ipv4.conf.all.arp_announce=2",
                ],
            );
            netns_ok(
                ns,
                &["ip", "addr", "add", "169.254.169.254/32", "dev", "lo"],
            );
            daemons.push(imds_in(
                ns,
                &node.name,
                "host0",
                NODE_IPS[i],
                &world,
                i,
                dir,
            ));
            daemons.push(hotplug_in(
                ns,
                &node.name,
                &format!("http://{MOTO_IP}:5000"),
                &world.instances[i],
                // Bridge ports unique per lab and node (IFNAMSIZ: 15).
                &format!(
                    "{}-{}",
                    lab.ns
                        .trim_start_matches("hk-")
                        .chars()
                        .take(6)
                        .collect::<String>(),
                    node.name
                ),
                &lab.ns,
                dir,
            ));
        }
        for node in &lab.nodes {
            wait_until(
                "IMDS in the node's namespace",
                Duration::from_secs(20),
                || {
                    std::process::Command::new("ip")
                        .args(["netns", "exec", node.netns(), "python3", "-c"])
                        .arg(
                            "import socket; socket.create_connection(('169.254.169.254', 80), 0.5)",
                        )
                        .output()
                        .is_ok_and(|o| o.status.success())
                },
            );
        }
        Cloud {
            endpoint,
            world,
            _daemons: daemons,
        }
    }

    /// (ENI id, private address) of `node`'s hakit ENI, if it has one.
    pub fn eni_of(&self, node: &str) -> Option<(String, String)> {
        self.enis(&format!("tag:hakit:node={node}"))
            .into_iter()
            .next()
    }

    /// hakit's ENIs matching `tag:key=value`.
    pub fn enis(&self, filter: &str) -> Vec<(String, String)> {
        let (key, value) = filter.split_once('=').expect("key=value");
        let rt = runtime();
        let ec2 = sdk_client(&rt, &self.endpoint);
        let filter = hakit_cloud::sdk::types::Filter::builder()
            .name(key)
            .values(value)
            .build();
        let out = rt
            .block_on(ec2.describe_network_interfaces().filters(filter).send())
            .expect("describe");
        out.network_interfaces()
            .iter()
            .map(|e| {
                (
                    e.network_interface_id().unwrap_or_default().to_string(),
                    e.private_ip_address().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The ENI the Elastic IP is associated with (None: unassociated); panics if released.
    fn holder(&self) -> Option<String> {
        let (exists, eni) = eip_state(&self.endpoint, &self.world.allocation_id);
        assert!(exists, "the Elastic IP was released");
        eni
    }
}

fn lab_ip(lab: &Lab, args: &[&str]) -> String {
    let mut argv = vec!["ip", "-n", &lab.ns];
    argv.extend(args);
    run_ok(&argv)
}

fn netns_ok(ns: &str, args: &[&str]) -> String {
    let mut argv = vec!["ip", "netns", "exec", ns];
    argv.extend(args);
    run_ok(&argv)
}

fn run_ok(argv: &[&str]) -> String {
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The ENI's configuration as the node's kernel has it: the interface holding `address`,
/// the rule for it, its table's routes, and where a reply from it to the lab leaves.
pub(crate) fn eni_config(node: &Node, address: &str) -> (String, String, String, String) {
    let addrs = node.ok(&["ip", "-o", "-4", "addr", "show"]);
    let interface = addrs
        .lines()
        .find(|l| l.contains(&format!(" {address}/")))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let rule = node
        .ok(&["ip", "rule", "show"])
        .lines()
        .find(|l| l.contains(&format!("from {address} ")))
        .unwrap_or("")
        .trim()
        .to_string();
    // "10001:\tfrom 192.0.2.100 lookup 10001 proto static" (networkd adds the proto).
    let table = rule
        .split_whitespace()
        .skip_while(|w| *w != "lookup")
        .nth(1)
        .unwrap_or("")
        .to_string();
    let routes = if table.is_empty() {
        String::new()
    } else {
        node.run(&["ip", "-4", "route", "show", "table", &table])
            .stdout
            .iter()
            .map(|b| *b as char)
            .collect()
    };
    let reply = node
        .run(&["ip", "route", "get", MOTO_IP, "from", address])
        .stdout
        .iter()
        .map(|b| *b as char)
        .collect::<String>();
    (interface, rule, routes, reply)
}

/// The ENI is configured with policy routing: its address on the interface with its MAC, a
/// rule from it to its own table, that table's default route, and replies from it leaving
/// through it (not through host0).
pub(crate) fn assert_eni_configured(node: &Node, address: &str, when: &str) {
    let (interface, rule, routes, reply) = eni_config(node, address);
    assert!(
        !interface.is_empty() && interface != "host0",
        "{} {when}: no interface holds {address}",
        node.name
    );
    assert!(
        !rule.is_empty(),
        "{} {when}: no rule from {address}",
        node.name
    );
    assert!(
        routes.contains("default via"),
        "{} {when}: the ENI's table has no default route: {routes:?}",
        node.name
    );
    assert!(
        reply.contains(&format!("dev {interface}")),
        "{} {when}: a reply from {address} leaves by {reply:?}, not {interface}",
        node.name
    );
}

#[test]
fn an_aws_eip_pair_on_booted_hosts_fails_over_survives_networkd_and_reboots_and_rolls_back() {
    if !ready("the aws-eip pair on booted containers")
        || !require_tool("moto_server")
        || !require_tool("socat")
    {
        return;
    }
    let mut lab = Lab::new("aw", "bookworm", &["n1", "n2"]);
    let dir = crate::common::fresh_dir("booted-aws");
    let cloud = Cloud::start(&lab, &dir);
    lab.put_cluster(&cluster_file(&cloud.world));
    let before: Vec<HostState> = lab.nodes.iter().map(host_state).collect();
    let _backend = Backend::start(&lab);

    // debootstrap's minimal Debian has no CA certificates: HTTPS to EC2 cannot work, and
    // setup says what to install instead of failing inside the TLS stack.
    let https = cluster_file(&cloud.world).replace("http://", "https://");
    lab.put("/root/https.toml", https.as_bytes(), 0o644);
    let out = lab.node("n1").run(&[
        "hakit",
        "setup",
        "--role",
        "master",
        "--config",
        "/root/https.toml",
        "--secrets",
        "/root/secrets.toml",
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && said.contains("install the ca-certificates package")
            && !said.contains("panicked"),
        "{said}"
    );
    lab.node("n1").ok(&["rm", "/root/https.toml"]);

    setup(lab.node("n1"), "master");
    setup(lab.node("n2"), "backup");
    let (eni1, ip1) = cloud.eni_of("n1").expect("n1's ENI");
    let (eni2, ip2) = cloud.eni_of("n2").expect("n2's ENI");
    wait_until(
        "the Elastic IP on n1's ENI",
        Duration::from_secs(20),
        || cloud.holder().as_deref() == Some(eni1.as_str()),
    );
    assert_eni_configured(lab.node("n1"), &ip1, "after setup");
    assert_eni_configured(lab.node("n2"), &ip2, "after setup");

    // networkd told to re-read its files and reconfigure every link: nothing is lost.
    for (node, ip) in [(lab.node("n1"), &ip1), (lab.node("n2"), &ip2)] {
        let before = eni_config(node, ip);
        node.ok(&["networkctl", "reload"]);
        let (interface, ..) = &before;
        node.ok(&["networkctl", "reconfigure", interface, "host0"]);
        // networkd takes the links' configuration away and puts it back, asynchronously.
        std::thread::sleep(Duration::from_secs(1));
        wait_until(
            "networkd to configure the ENI again",
            Duration::from_secs(15),
            || eni_config(node, ip).3.contains(&format!("dev {interface}")),
        );
        assert_eni_configured(node, ip, "after networkctl reload and reconfigure");
        assert_eq!(
            eni_config(node, ip).0,
            before.0,
            "{}: the ENI's interface",
            node.name
        );
    }

    // Drift: the backup's policy rule removed by hand. keepalived's reconcile script (every
    // 5 s, on every node) puts it back and logs one line; nothing else moves.
    let n2 = lab.node("n2");
    let (_, rule, ..) = eni_config(n2, &ip2);
    let table = rule
        .split_whitespace()
        .skip_while(|w| *w != "lookup")
        .nth(1)
        .expect("the rule's table")
        .to_string();
    // keepalived stopped meanwhile (n2 is backup: nothing moves), so no reconcile runs
    // before `hakit status` has looked.
    n2.ok(&["systemctl", "stop", "keepalived"]);
    n2.ok(&["ip", "rule", "del", "from", &ip2, "lookup", &table]);
    assert!(eni_config(n2, &ip2).1.is_empty(), "the rule is gone");
    let status = n2.run(&["hakit", "status", "--config", "/etc/hakit/cluster.toml"]);
    let said = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(4), "{said}");
    assert!(
        said.contains(&format!(
            "MISSING the policy rule from {ip2} lookup {table}"
        )),
        "{said}"
    );
    n2.ok(&["systemctl", "start", "keepalived"]);
    let drift_lines = || {
        std::fs::read_to_string(n2.root.join("var/log/hakit/failover.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("action=drift-repaired"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let took = wait_until(
        "the reconcile to put n2's rule back",
        Duration::from_secs(20),
        || !eni_config(n2, &ip2).1.is_empty(),
    );
    eprintln!("figure: booted aws-eip, a removed ENI policy rule was back after {took:?}");
    assert_eni_configured(n2, &ip2, "after the reconcile put its rule back");
    std::thread::sleep(Duration::from_secs(6));
    let lines = drift_lines();
    assert_eq!(lines.len(), 1, "one line for one repair: {lines:?}");
    assert!(
        lines[0].contains(&format!("the policy rule from {ip2} lookup {table}")),
        "{lines:?}"
    );
    assert_eq!(
        cloud.holder().as_deref(),
        Some(eni1.as_str()),
        "the drift moved the Elastic IP"
    );

    // Failover: n1's proxy stops, n2's hook moves the Elastic IP to n2's ENI.
    lab.node("n1").ok(&["systemctl", "stop", "haproxy"]);
    let took = wait_until(
        "the Elastic IP on n2's ENI after n1's proxy stopped",
        Duration::from_secs(20),
        || cloud.holder().as_deref() == Some(eni2.as_str()),
    );
    eprintln!("figure: booted aws-eip, proxy stop -> EIP on n2's ENI after {took:?} (polled)");
    lab.node("n1").ok(&["systemctl", "start", "haproxy"]);

    // Reboot of n1 (now backup): it comes back with its ENI configured by networkd from
    // hakit's unit, as backup, and the address stays on n2 (nopreempt).
    let took = lab.node_mut("n1").reboot();
    eprintln!("figure: booted aws-eip, n1 rebooted in {took:?}");
    wait_until(
        "n1's ENI configured after its reboot",
        Duration::from_secs(20),
        || eni_config(lab.node("n1"), &ip1).3.contains("dev "),
    );
    assert_eni_configured(lab.node("n1"), &ip1, "after its reboot");
    wait_until(
        "n1 reports backup after its reboot",
        Duration::from_secs(30),
        || {
            lab.node("n1")
                .run(&["sh", "-c", "tail -n 1 /var/log/hakit/failover.log"])
                .stdout
                .windows(12)
                .any(|w| w == b"state=backup")
        },
    );
    for _ in 0..30 {
        assert_eq!(
            cloud.holder().as_deref(),
            Some(eni2.as_str()),
            "the rebooted n1 took the Elastic IP back despite nopreempt"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Rollback on both: no hakit ENI left, the Elastic IP still allocated, hosts as before.
    for node in &lab.nodes {
        node.ok(&["hakit", "rollback", "--config", "/etc/hakit/cluster.toml"]);
    }
    assert!(
        cloud.enis("tag:hakit:cluster=booted").is_empty(),
        "rollback left hakit ENIs"
    );
    assert_eq!(cloud.holder(), None, "the Elastic IP is left unassociated");
    // The hotplug helper removes the detached ENI's interface (bounded).
    wait_until("the ENI interfaces gone", Duration::from_secs(10), || {
        lab.nodes
            .iter()
            .all(|n| eni_config(n, &ip1).0.is_empty() && eni_config(n, &ip2).0.is_empty())
    });
    for (node, before) in lab.nodes.iter().zip(&before) {
        host_state(node).assert_same_as(before, &format!("{}: after rollback", node.name));
    }
}
