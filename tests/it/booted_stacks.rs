//! The dedicated ENI on each network stack a host may have: systemd-networkd (the aws-eip
//! pair in booted_aws.rs), NetworkManager and ifupdown (Debian's `network-manager` and
//! `ifupdown` standing in for RHEL's and older Debian's). One booted Debian 12 node per
//! stack, moto and the hotplug helper as in booted_aws.rs: `hakit setup` as master, then
//! the ENI must answer with policy routing after setup, after the manager re-reads and
//! re-applies its configuration, and after a reboot — with keepalived stopped and
//! disabled, so its drift repair cannot be what puts it back. Rollback must leave nothing
//! of it and the host as it was.

use crate::booted::{ready, Lab, Stack};
use crate::booted_aws::{assert_eni_configured, cluster_file, eni_config, Cloud};
use crate::booted_pair::{setup, wait_until};
use crate::booted_state::host_state;
use crate::common::require_tool;
use std::time::Duration;

/// What setup writes for the stack, and how its manager is told to configure the links
/// again: each group of commands run together, then the ENI checked (`IFACE` stands for
/// the ENI's interface).
struct Case {
    stack: Stack,
    tag: &'static str,
    found: &'static str,
    file: &'static str,
    reloads: &'static [&'static [&'static [&'static str]]],
}

const NETWORK_MANAGER: Case = Case {
    stack: Stack::NetworkManager,
    tag: "nm",
    found: "NetworkManager found",
    file: "/etc/NetworkManager/system-connections/hakit-booted.nmconnection",
    reloads: &[
        &[
            &["nmcli", "connection", "reload"],
            &["nmcli", "device", "reapply", "IFACE"],
        ],
        &[&["systemctl", "restart", "NetworkManager"]],
    ],
};

const IFUPDOWN: Case = Case {
    stack: Stack::Ifupdown,
    tag: "if",
    found: "ifupdown found",
    file: "/etc/network/interfaces.d/hakit-booted",
    reloads: &[
        &[&["ifdown", "IFACE"], &["ifup", "IFACE"]],
        &[&["systemctl", "restart", "networking"]],
    ],
};

#[test]
fn the_eni_survives_network_manager_reloads_and_a_reboot_and_rolls_back() {
    the_eni_survives(&NETWORK_MANAGER);
}

#[test]
fn the_eni_survives_ifupdown_restarts_and_a_reboot_and_rolls_back() {
    the_eni_survives(&IFUPDOWN);
}

fn the_eni_survives(case: &Case) {
    if !ready("the ENI on booted hosts' network stacks")
        || !require_tool("moto_server")
        || !require_tool("socat")
    {
        return;
    }
    let mut lab = Lab::with_stack(case.tag, "bookworm", case.stack, &["n1"]);
    let dir = crate::common::fresh_dir(&format!("booted-{}", case.tag));
    let cloud = Cloud::start(&lab, &dir);
    lab.put_cluster(&cluster_file(&cloud.world));
    let before = host_state(lab.node("n1"));
    let stack = format!("{:?}", case.stack);

    // plan says which manager it found and what it will write.
    let plan = lab.node("n1").ok(&[
        "hakit",
        "plan",
        "--role",
        "master",
        "--config",
        "/root/cluster.toml",
        "--secrets",
        "/root/secrets.toml",
    ]);
    assert!(
        plan.contains(case.found) && plan.contains(case.file),
        "{stack}: {plan}"
    );

    setup(lab.node("n1"), "master");
    let n1 = lab.node("n1");
    // From here on only the network manager may put the ENI's configuration back.
    n1.ok(&["systemctl", "disable", "--now", "-q", "keepalived"]);
    let (_, ip) = cloud.eni_of("n1").expect("n1's ENI");
    assert_eni_configured(n1, &ip, &format!("{stack}, after setup"));
    let (interface, ..) = eni_config(n1, &ip);
    assert!(
        n1.root.join(case.file.trim_start_matches('/')).exists(),
        "{stack}: {} was not written",
        case.file
    );

    for group in case.reloads {
        let mut done = Vec::new();
        for argv in *group {
            let argv: Vec<&str> = argv
                .iter()
                .map(|a| if *a == "IFACE" { interface.as_str() } else { a })
                .collect();
            n1.ok(&argv);
            done.push(argv.join(" "));
        }
        let when = format!("{stack}, after `{}`", done.join("` and `"));
        // Some of these take the configuration away and put it back asynchronously.
        wait_until(&when, Duration::from_secs(20), || {
            let (_, rule, _, reply) = eni_config(n1, &ip);
            reply.contains(&format!("dev {interface}")) && !rule.is_empty()
        });
        assert_eni_configured(n1, &ip, &when);
    }

    let took = lab.node_mut("n1").reboot();
    let n1 = lab.node("n1");
    let when = format!("{stack}, after a reboot");
    let configured = wait_until(&when, Duration::from_secs(30), || {
        let (_, rule, routes, reply) = eni_config(n1, &ip);
        !rule.is_empty() && routes.contains("default via") && reply.contains("dev ")
    });
    assert_eni_configured(n1, &ip, &when);
    eprintln!(
        "figure: booted {stack}: rebooted in {took:?}, the ENI configured {configured:?} after boot"
    );
    n1.ok(&["systemctl", "enable", "-q", "keepalived"]);

    n1.ok(&["hakit", "rollback", "--config", "/etc/hakit/cluster.toml"]);
    assert!(
        cloud.enis("tag:hakit:cluster=booted").is_empty(),
        "{stack}: rollback left hakit ENIs"
    );
    assert!(
        !n1.root.join(case.file.trim_start_matches('/')).exists(),
        "{stack}: rollback left {}",
        case.file
    );
    // The hotplug helper removes the detached ENI's interface (bounded).
    wait_until("the ENI's interface gone", Duration::from_secs(10), || {
        eni_config(n1, &ip).0.is_empty()
    });
    host_state(n1).assert_same_as(&before, &format!("{stack}: after rollback"));
}
