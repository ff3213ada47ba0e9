//! Table-driven: every bad cluster file is rejected with an error naming the field at fault.

use crate::common::{cluster_toml, hakit, run, stderr};
use hakit::config;

fn aws() -> String {
    cluster_toml("haproxy", "aws-eip", "")
}

fn l2() -> String {
    cluster_toml("haproxy", "l2-vip", "")
}

fn replace(text: String, from: &str, to: &str) -> String {
    assert!(text.contains(from), "test setup: {from:?} not in\n{text}");
    text.replacen(from, to, 1)
}

/// (what is wrong, cluster file, field the error must name)
fn cases() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "unknown top-level key",
            format!("colour = \"blue\"\n{}", aws()),
            "colour",
        ),
        (
            "unknown key in a table",
            replace(
                aws(),
                "virtual_router_id = 51",
                "virtual_router_id = 51\nadvert_interval = 1",
            ),
            "vrrp.advert_interval",
        ),
        (
            "secret in the cluster file",
            replace(
                aws(),
                "virtual_router_id = 51",
                "virtual_router_id = 51\nauth_pass = \"secret123\"",
            ),
            "vrrp.auth_pass",
        ),
        (
            "missing name",
            replace(aws(), "name = \"demo\"\n", ""),
            "name",
        ),
        (
            "bad cluster name",
            replace(aws(), "name = \"demo\"", "name = \"Demo Cluster\""),
            "name",
        ),
        (
            "missing mode",
            replace(aws(), "mode = \"aws-eip\"\n", ""),
            "mode",
        ),
        (
            "unknown mode",
            replace(aws(), "mode = \"aws-eip\"", "mode = \"bgp\""),
            "mode",
        ),
        (
            "unknown profile",
            replace(aws(), "profile = \"haproxy\"", "profile = \"nginx\""),
            "profile",
        ),
        (
            "missing EIP in aws-eip mode",
            replace(
                aws(),
                "eip_allocation_id = \"eipalloc-0123456789abcdef0\"",
                "region = \"eu-west-1\"",
            ),
            "aws.eip_allocation_id",
        ),
        (
            "public IP instead of allocation id",
            replace(aws(), "eipalloc-0123456789abcdef0", "34.249.49.35"),
            "aws.eip_allocation_id",
        ),
        (
            "bad region",
            replace(aws(), "[aws]\n", "[aws]\nregion = \"Ireland\"\n"),
            "aws.region",
        ),
        (
            "bad security group",
            replace(
                aws(),
                "[aws]\n",
                "[aws]\nsecurity_group_ids = [\"default\"]\n",
            ),
            "aws.security_group_ids[0]",
        ),
        (
            "multicast in a VPC",
            replace(
                aws(),
                "virtual_router_id = 51",
                "virtual_router_id = 51\nunicast = false",
            ),
            "vrrp.unicast",
        ),
        (
            "vip table in aws-eip mode",
            aws() + "\n[vip]\naddress = \"192.0.2.100/24\"\ninterface = \"eth0\"\n",
            "vip",
        ),
        (
            "missing VIP in l2-vip mode",
            replace(l2(), "address = \"192.0.2.100/24\"\n", ""),
            "vip.address",
        ),
        (
            "VIP without prefix",
            replace(l2(), "192.0.2.100/24", "192.0.2.100"),
            "vip.address",
        ),
        (
            "bad CIDR prefix",
            replace(l2(), "192.0.2.100/24", "192.0.2.100/33"),
            "vip.address",
        ),
        (
            "bad VIP interface",
            replace(l2(), "interface = \"eth0\"", "interface = \"eth 0/1\""),
            "vip.interface",
        ),
        (
            "VIP equal to a node address",
            replace(l2(), "192.0.2.100/24", "192.0.2.12/24"),
            "node[1].address",
        ),
        (
            "aws table in l2-vip mode",
            l2() + "\n[aws]\neip_allocation_id = \"eipalloc-0123456789abcdef0\"\n",
            "aws",
        ),
        (
            "one node only",
            replace(
                aws(),
                "\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n",
                "",
            ),
            "node",
        ),
        (
            "duplicate node name",
            replace(aws(), "name = \"n2\"", "name = \"n1\""),
            "node[1].name",
        ),
        (
            "duplicate node address",
            replace(aws(), "192.0.2.12\"", "192.0.2.11\""),
            "node[1].address",
        ),
        (
            "bad node address",
            replace(aws(), "192.0.2.12\"", "192.0.2.312\""),
            "node[1].address",
        ),
        (
            "address with prefix",
            replace(aws(), "192.0.2.12\"", "192.0.2.12/24\""),
            "node[1].address",
        ),
        (
            "loopback node address",
            replace(aws(), "192.0.2.11\"", "127.0.0.1\""),
            "node[0].address",
        ),
        (
            "bad instance id",
            replace(
                aws(),
                "address = \"192.0.2.11\"",
                "address = \"192.0.2.11\"\ninstance_id = \"web-1\"",
            ),
            "node[0].instance_id",
        ),
        (
            "priority above 254",
            replace(
                aws(),
                "address = \"192.0.2.11\"",
                "address = \"192.0.2.11\"\npriority = 255",
            ),
            "node[0].priority",
        ),
        (
            "priority 0",
            replace(
                aws(),
                "address = \"192.0.2.12\"",
                "address = \"192.0.2.12\"\npriority = 0",
            ),
            "node[1].priority",
        ),
        (
            "priorities not decreasing",
            replace(
                aws(),
                "address = \"192.0.2.12\"",
                "address = \"192.0.2.12\"\npriority = 200",
            ),
            "node[1].priority",
        ),
        (
            "virtual_router_id 0",
            replace(aws(), "virtual_router_id = 51", "virtual_router_id = 0"),
            "vrrp.virtual_router_id",
        ),
        (
            "virtual_router_id 256",
            replace(aws(), "virtual_router_id = 51", "virtual_router_id = 256"),
            "vrrp.virtual_router_id",
        ),
        (
            "virtual_router_id as text",
            replace(
                aws(),
                "virtual_router_id = 51",
                "virtual_router_id = \"fifty\"",
            ),
            "vrrp.virtual_router_id",
        ),
        (
            "missing virtual_router_id",
            replace(aws(), "virtual_router_id = 51", "version = 3"),
            "vrrp.virtual_router_id",
        ),
        (
            "VRRP version 4",
            replace(
                aws(),
                "virtual_router_id = 51",
                "virtual_router_id = 51\nversion = 4",
            ),
            "vrrp.version",
        ),
        (
            "fractional advert with VRRPv2",
            replace(
                aws(),
                "virtual_router_id = 51",
                "virtual_router_id = 51\nversion = 2\nadvert_int = 0.5",
            ),
            "vrrp.advert_int",
        ),
        (
            "auth with VRRPv3",
            replace(
                aws(),
                "virtual_router_id = 51",
                "virtual_router_id = 51\nversion = 3\nauth = true",
            ),
            "vrrp.auth",
        ),
        (
            "fractional check interval",
            aws() + "\n[check]\ninterval = 0.5\n",
            "check.interval",
        ),
        (
            "check fall 0",
            aws() + "\n[check]\nfall = 0\n",
            "check.fall",
        ),
        (
            "timeout longer than interval",
            aws() + "\n[check]\ninterval = 1\ntimeout = 3\n",
            "check.timeout",
        ),
        (
            "weight smaller than the priority gap",
            aws() + "\n[check]\nweight = -5\n",
            "check.weight",
        ),
        (
            "positive weight smaller than the gap",
            aws() + "\n[check]\nweight = 10\n",
            "check.weight",
        ),
        (
            "backend without port",
            replace(aws(), "192.0.2.21:3306", "192.0.2.21"),
            "backend[0].address",
        ),
        (
            "backend port out of range",
            replace(aws(), "192.0.2.21:3306", "192.0.2.21:70000"),
            "backend[0].address",
        ),
        (
            "duplicate backend",
            replace(aws(), "192.0.2.22:3306", "192.0.2.21:3306"),
            "backend[1].address",
        ),
        (
            "proxy port 0",
            aws() + "\n[proxy]\nport = 0\n",
            "proxy.port",
        ),
        (
            "stats port equal to proxy port",
            aws() + "\n[proxy]\nport = 3306\nstats_port = 3306\n",
            "proxy.stats_port",
        ),
        (
            "relative path",
            aws() + "\n[paths]\nkeepalived_dir = \"etc/keepalived\"\n",
            "paths.keepalived_dir",
        ),
        (
            "backend check interval too long",
            aws() + "\n[proxy]\nbackend_check_interval = 120\n",
            "proxy.backend_check_interval",
        ),
        (
            "backend fall zero",
            aws() + "\n[proxy]\nbackend_fall = 0\n",
            "proxy.backend_fall",
        ),
        (
            "proxysql user name with a space",
            cluster_toml(
                "proxysql",
                "aws-eip",
                "\n[[proxysql.user]]\nname = \"my app\"\n",
            ),
            "proxysql.user[0].name",
        ),
        (
            "proxysql hostgroup out of range",
            cluster_toml(
                "proxysql",
                "aws-eip",
                "\n[proxysql]\nreader_hostgroup = -5\n",
            ),
            "proxysql.reader_hostgroup",
        ),
        (
            "proxysql writer and reader hostgroups the same",
            cluster_toml(
                "proxysql",
                "aws-eip",
                "\n[proxysql]\nwriter_hostgroup = 7\nreader_hostgroup = 7\n",
            ),
            "proxysql.reader_hostgroup",
        ),
        (
            "TOML syntax error",
            replace(aws(), "name = \"demo\"", "name = \"demo"),
            "(syntax)",
        ),
    ]
}

#[test]
fn every_bad_cluster_file_names_its_field() {
    let cases = cases();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for (what, text, field) in &cases {
        match config::parse(text) {
            Ok(_) => failures.push(format!(
                "{what}: accepted, expected an error naming `{field}`"
            )),
            Err(issues) => {
                if !issues.iter().any(|i| i.field == *field) {
                    failures.push(format!(
                        "{what}: expected `{field}`, got {:?}",
                        issues.iter().map(|i| &i.field).collect::<Vec<_>>()
                    ));
                }
                for issue in &issues {
                    if issue.fix.is_empty() || issue.problem.is_empty() {
                        failures.push(format!(
                            "{what}: issue on `{}` lacks a problem or a fix",
                            issue.field
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_good_base_files_are_accepted() {
    config::parse(&aws()).expect("aws base");
    config::parse(&l2()).expect("l2 base");
}

#[test]
fn all_problems_are_reported_together() {
    let text = replace(
        replace(aws(), "virtual_router_id = 51", "virtual_router_id = 300"),
        "192.0.2.12\"",
        "192.0.2.999\"",
    );
    let issues = config::parse(&text).unwrap_err();
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    assert!(
        fields.contains(&"vrrp.virtual_router_id") && fields.contains(&"node[1].address"),
        "{fields:?}"
    );
}

#[test]
fn missing_backends_are_named_by_the_profile_check() {
    let text = cluster_toml("proxysql", "aws-eip", "")
        .replace("[[backend]]\naddress = \"192.0.2.21:3306\"\n", "")
        .replace("[[backend]]\naddress = \"192.0.2.22:3306\"\n", "");
    let cluster = config::parse(&text).expect("valid on its own");
    let profile = crate::common::shipped_profile("proxysql");
    let issues = hakit::config::check_cluster(&profile, &cluster);
    assert_eq!(
        issues.iter().map(|i| i.field.as_str()).collect::<Vec<_>>(),
        vec!["backend"]
    );
}

#[test]
fn the_cli_exits_2_naming_the_field_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        replace(aws(), "virtual_router_id = 51", "virtual_router_id = 0"),
    )
    .expect("write");
    let out_dir = dir.path().join("out");
    let out = run(hakit()
        .args(["render", "--role", "master", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out_dir));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("vrrp.virtual_router_id") && err.contains("fix:"),
        "{err}"
    );
    assert!(
        !out_dir.exists(),
        "nothing may be written for a bad cluster file"
    );
}

/// A `[[proxysql.user]]` whose password is not in the secrets file: exit 2 naming the
/// secrets file's key and how to add it; no password is printed.
#[test]
fn a_proxysql_user_without_a_password_exits_2_naming_the_secrets_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        cluster_toml(
            "proxysql",
            "l2-vip",
            "\n[[proxysql.user]]\nname = \"app\"\n[[proxysql.user]]\nname = \"report\"\n",
        ),
    )
    .expect("write");
    let secrets = dir.path().join("secrets.toml");
    std::fs::write(&secrets, crate::proxysql_real::secrets_with_app()).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out_dir = dir.path().join("out");
    let out = run(hakit()
        .args(["render", "--role", "master", "--config"])
        .arg(&config)
        .arg("--secrets")
        .arg(&secrets)
        .arg("--out")
        .arg(&out_dir));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("proxysql_users.report")
            && err.contains("[proxysql_users]")
            && !err.contains("proxysql_users.app"),
        "{err}"
    );
    assert!(
        !err.contains("TESTappPW") && !err.contains("TESTadminPW"),
        "{err}"
    );
    assert!(!out_dir.exists(), "nothing may be written");
}

#[test]
fn a_proxysql_table_beside_another_profile_is_named_by_the_profile_check() {
    let text = aws() + "\n[[proxysql.user]]\nname = \"app\"\n";
    let cluster = config::parse(&text).expect("valid on its own");
    let profile = crate::common::shipped_profile("haproxy");
    let issues = hakit::config::check_cluster(&profile, &cluster);
    assert_eq!(
        issues.iter().map(|i| i.field.as_str()).collect::<Vec<_>>(),
        vec!["proxysql"]
    );
}
