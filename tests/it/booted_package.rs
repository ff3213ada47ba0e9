//! The package a Debian user installs, on two booted Debian 12 containers: `apt-get
//! install ./hakit_*.deb`, the man pages and bash completion found where Debian looks,
//! `hakit setup` of an l2-vip pair from the installed binary (the hook runs
//! /usr/bin/hakit, which no cluster file names), a failover the hook reports, `apt-get
//! remove` refused while the cluster is set up, a purge that keeps the cluster's files,
//! then rollback and purge: each host as it began.

use crate::booted::{ready, Lab, Node};
use crate::booted_pair::{cluster_file, holds_vip, setup, wait_until, Backend};
use crate::booted_state::host_state;
use std::time::Duration;

const DEB: &str = "/root/hakit.deb";

/// apt-get without a network: packages come from the apt cache or a local .deb (apt
/// refuses `--no-download` with a local .deb, so that flag is not used).
fn apt(node: &Node, args: &[&str]) -> std::process::Output {
    let mut argv = vec!["apt-get", "-y", "-q"];
    argv.extend(args);
    node.run(&argv)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn failover_log(node: &Node) -> String {
    std::fs::read_to_string(node.root.join("var/log/hakit/failover.log")).unwrap_or_default()
}

#[test]
fn the_installed_package_sets_up_fails_over_rolls_back_and_purges_to_the_host_it_found() {
    if !ready("the package on booted containers")
        || !crate::common::require_tool("socat")
        || !crate::common::require_tool("lintian")
    {
        return;
    }
    let deb = std::fs::read(crate::package::deb()).expect("the package");
    let lab = Lab::without_hakit("pk", "bookworm", &["n1", "n2"]);
    // man-db and bash-completion, as on a standard Debian system (from the apt cache).
    for node in &lab.nodes {
        let out = apt(node, &["install", "man-db", "bash-completion"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    lab.put_cluster(&cluster_file());
    let before: Vec<_> = lab.nodes.iter().map(host_state).collect();
    lab.put(DEB, &deb, 0o644);
    let _backend = Backend::start(&lab);

    for node in &lab.nodes {
        let out = apt(node, &["install", DEB]);
        assert!(out.status.success(), "{}: {}", node.name, text(&out));
        // Nothing else came with it: no keepalived, no haproxy before setup.
        assert!(
            !text(&out).contains("keepalived") && !text(&out).contains("haproxy"),
            "{}",
            text(&out)
        );
        assert_eq!(
            node.ok(&["sh", "-c", "command -v hakit"]),
            "/usr/bin/hakit\n"
        );
        assert_eq!(
            node.ok(&["man", "-w", "hakit-setup"]),
            "/usr/share/man/man1/hakit-setup.1.gz\n"
        );
        // An interactive login shell, as an operator's: completion loads on first use.
        let complete = node.ok(&[
            "bash",
            "-lic",
            "_completion_loader hakit >/dev/null 2>&1; complete -p hakit",
        ]);
        assert!(
            complete.contains("_hakit") && complete.ends_with("hakit\n"),
            "{complete}"
        );
    }

    // Setup from the installed binary; the cluster file names no hakit_bin.
    for (name, role) in [("n1", "master"), ("n2", "backup")] {
        let node = lab.node(name);
        setup(node, role);
        let notify = std::fs::read_to_string(node.root.join("usr/local/libexec/hakit/notify.sh"))
            .expect("notify.sh");
        assert!(notify.contains("exec /usr/bin/hakit notify"), "{notify}");
    }
    wait_until("n1 holds the address", Duration::from_secs(15), || {
        holds_vip(lab.node("n1"))
    });
    let status = lab
        .node("n1")
        .run(&["hakit", "status", "--config", "/etc/hakit/cluster.toml"]);
    assert!(
        text(&status).contains("failover hook: runs /usr/bin/hakit"),
        "{}",
        text(&status)
    );

    // Failover: n1's proxy stops, n2 takes the address, and n2's hook (the installed
    // binary) logs the transition.
    lab.node("n1").ok(&["systemctl", "stop", "haproxy"]);
    wait_until("n2 takes the address", Duration::from_secs(15), || {
        holds_vip(lab.node("n2"))
    });
    wait_until("n2's hook logs master", Duration::from_secs(10), || {
        failover_log(lab.node("n2")).contains("state=master")
    });
    lab.node("n1").ok(&["systemctl", "start", "haproxy"]);

    // Removing hakit while it has a cluster set up is refused, saying what to run first.
    let out = apt(lab.node("n1"), &["remove", "hakit"]);
    assert!(
        !out.status.success(),
        "remove with a cluster set up went ahead"
    );
    assert!(text(&out).contains("hakit rollback"), "{}", text(&out));
    assert!(lab.node("n1").root.join("usr/bin/hakit").exists());

    // On n2 the operator insists: purge keeps the journal, the secrets and the configs
    // (and says so), so that hakit, installed again, can still roll back.
    let n2 = lab.node("n2");
    let out = n2.run(&[
        "env",
        "HAKIT_REMOVE_WITH_CLUSTER=1",
        "apt-get",
        "-y",
        "-q",
        "--no-download",
        "purge",
        "hakit",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("install hakit again and run 'hakit rollback'"),
        "{}",
        text(&out)
    );
    for kept in [
        "var/lib/hakit/journal.json",
        "etc/hakit/secrets.toml",
        "etc/keepalived/keepalived.conf",
    ] {
        assert!(n2.root.join(kept).exists(), "purge removed {kept}");
    }
    let status = n2.run(&["/usr/local/libexec/hakit/notify.sh", "backup"]);
    assert_eq!(status.status.code(), Some(127), "the hook without hakit");
    let out = apt(n2, &["install", DEB]);
    assert!(out.status.success(), "{}", text(&out));

    for node in &lab.nodes {
        node.ok(&["hakit", "rollback", "--config", "/etc/hakit/cluster.toml"]);
        let out = apt(node, &["purge", "hakit"]);
        assert!(
            out.status.success(),
            "{}: purge:\n{}",
            node.name,
            text(&out)
        );
        node.ok(&["rm", DEB]);
    }
    for (node, before) in lab.nodes.iter().zip(&before) {
        host_state(node)
            .assert_same_as(before, &format!("{}: after rollback and purge", node.name));
        for gone in [
            "usr/bin/hakit",
            "usr/share/man/man1/hakit.1.gz",
            "var/lib/hakit",
        ] {
            assert!(
                !node.root.join(gone).exists(),
                "{}: {gone} is left",
                node.name
            );
        }
    }
}
