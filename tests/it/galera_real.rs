//! The mariadb-galera profile's health check, as rendered, against a real single-node
//! Galera cluster: Debian's MariaDB with galera-4, bootstrapped as a new cluster in the
//! test's own directory (loopback ports of its own). Healthy only while the node is in
//! the Primary component and Synced: not while desynced, not once disconnected from the
//! cluster, not when the server is down.

use crate::common::{cluster_toml, render_text, require_tool};
use crate::proxysql_real::{free_port, wait_for, Mariadb};
use hakit::role::Role;
use std::process::Command;
use std::time::Duration;

const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

#[test]
fn the_galera_check_follows_a_real_node_through_desync_disconnect_and_death() {
    for tool in ["mariadbd", "mariadb-install-db", "mariadb"] {
        if !require_tool(tool) {
            return;
        }
    }
    if !std::path::Path::new(PROVIDER).exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("{PROVIDER} is missing: `.ci/run` installs galera-4");
        }
        eprintln!("SKIPPED: {PROVIDER} is missing (apt-get install galera-4)");
        return;
    }
    let dir = crate::common::fresh_dir("galera-real");
    let gcomm = free_port();
    let options: Vec<String> = [
        "--wsrep-on=ON".to_string(),
        format!("--wsrep-provider={PROVIDER}"),
        "--wsrep-cluster-address=gcomm://".into(),
        "--wsrep-new-cluster".into(),
        "--wsrep-node-address=127.0.0.1".into(),
        format!("--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{gcomm}"),
        "--binlog-format=ROW".into(),
        "--innodb-autoinc-lock-mode=2".into(),
    ]
    .into();
    let mut node = Mariadb::start_with(&dir.join("node"), &options);

    // The check as setup renders it, with `mysql` pointed at this node's socket (the
    // check relies on root's socket login, as on a real node).
    let files = render_text(&cluster_toml("mariadb-galera", "l2-vip", ""), Role::Master);
    let script = files
        .iter()
        .find(|f| f.path.ends_with("check_galera_primary.sh"))
        .expect("the galera check");
    let check = dir.join("check_galera_primary.sh");
    std::fs::write(&check, &script.contents).expect("script");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let mysql = bin.join("mysql");
    std::fs::write(
        &mysql,
        format!(
            "#!/bin/sh\nexec mariadb --socket={} -uroot \"$@\"\n",
            node.socket.display()
        ),
    )
    .expect("mysql");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&mysql, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let healthy = || {
        Command::new("sh")
            .arg(&check)
            .env("PATH", &path)
            .status()
            .expect("sh")
            .success()
    };
    let state = |node: &Mariadb| {
        node.ok("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status', 'wsrep_local_state')")
    };

    wait_for(
        "the node Primary and Synced",
        Duration::from_secs(30),
        || {
            let s = state(&node);
            s.contains("Primary") && s.contains("wsrep_local_state\t4")
        },
    );
    assert!(healthy(), "a Primary, Synced node: {}", state(&node));

    node.ok("SET GLOBAL wsrep_desync = ON");
    wait_for("the node desynced", Duration::from_secs(10), || {
        state(&node).contains("wsrep_local_state\t2")
    });
    assert!(!healthy(), "a desynced node passed: {}", state(&node));
    node.ok("SET GLOBAL wsrep_desync = OFF");
    wait_for(
        "the check to pass again once synced",
        Duration::from_secs(10),
        healthy,
    );

    node.ok("SET GLOBAL wsrep_cluster_address = ''");
    wait_for("the node disconnected", Duration::from_secs(10), || {
        state(&node).contains("Disconnected")
    });
    assert!(!healthy(), "a disconnected node passed: {}", state(&node));

    node.stop();
    assert!(!healthy(), "the check passed with the server down");
}
