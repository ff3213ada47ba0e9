//! The keepalived rules the renderer enforces, one test each.

use crate::common::{cluster_toml, keepalived_conf, parse, render_text, MODES, PROFILES, ROLES};
use hakit::role::Role;

fn conf(profile: &str, mode: &str, extra: &str, role: Role) -> String {
    keepalived_conf(&render_text(&cluster_toml(profile, mode, extra), role)).to_string()
}

#[test]
fn aws_eip_mode_uses_unicast_to_the_peer() {
    let master = conf("haproxy", "aws-eip", "", Role::Master);
    assert!(master.contains("unicast_src_ip 192.0.2.11"), "{master}");
    assert!(
        master.contains("unicast_peer {\n        192.0.2.12\n    }"),
        "{master}"
    );
    let backup = conf("haproxy", "aws-eip", "", Role::Backup);
    assert!(backup.contains("unicast_src_ip 192.0.2.12"), "{backup}");
    assert!(
        backup.contains("unicast_peer {\n        192.0.2.11\n    }"),
        "{backup}"
    );
}

#[test]
fn l2_vip_mode_is_multicast_with_the_vip_unless_asked() {
    let master = conf("haproxy", "l2-vip", "", Role::Master);
    assert!(!master.contains("unicast_peer"), "{master}");
    assert!(master.contains("192.0.2.100/24 dev eth0"), "{master}");
    let unicast = conf(
        "haproxy",
        "l2-vip",
        "[vrrp]\nvirtual_router_id = 51\nunicast = true\n",
        Role::Master,
    );
    assert!(unicast.contains("unicast_peer"), "{unicast}");
}

#[test]
fn nopreempt_renders_state_backup_on_every_node() {
    for profile in PROFILES {
        for mode in MODES {
            for role in ROLES {
                let c = conf(profile, mode, "", *role);
                assert!(c.contains("nopreempt"), "{profile} {mode} {role:?}");
                assert!(c.contains("state BACKUP"), "{profile} {mode} {role:?}: {c}");
                assert!(!c.contains("state MASTER"), "{profile} {mode} {role:?}");
            }
        }
    }
}

#[test]
fn preempt_renders_master_state_only_on_the_master_and_no_nopreempt() {
    let extra = "[vrrp]\nvirtual_router_id = 51\npreempt = true\n";
    let master = conf("haproxy", "aws-eip", extra, Role::Master);
    let backup = conf("haproxy", "aws-eip", extra, Role::Backup);
    assert!(
        master.contains("state MASTER") && !master.contains("nopreempt"),
        "{master}"
    );
    assert!(
        backup.contains("state BACKUP") && !backup.contains("nopreempt"),
        "{backup}"
    );
}

#[test]
fn script_security_and_user_are_always_on() {
    for profile in PROFILES {
        for mode in MODES {
            let c = conf(profile, mode, "", Role::Master);
            assert!(c.contains("enable_script_security"), "{profile} {mode}");
            assert!(
                c.contains("script_user keepalived_script"),
                "{profile} {mode}"
            );
        }
    }
}

#[test]
fn the_health_check_is_protocol_level_with_no_weight_by_default() {
    let files = render_text(&cluster_toml("haproxy", "aws-eip", ""), Role::Master);
    let c = keepalived_conf(&files);
    assert!(c.contains("vrrp_script hakit_check_proxy_tcp"), "{c}");
    assert!(
        !c.contains("weight"),
        "no weight by default: a failed check means FAULT\n{c}"
    );
    let check = files
        .iter()
        .find(|f| f.path.ends_with("check_proxy_tcp.sh"))
        .expect("check script");
    assert!(
        check.contents.contains("/dev/tcp/127.0.0.1/3306"),
        "{}",
        check.contents
    );
    assert!(
        !check.contents.contains("pidof"),
        "a pid is not a health check"
    );
}

#[test]
fn an_explicit_weight_is_rendered_when_it_moves_mastership() {
    let c = conf(
        "haproxy",
        "aws-eip",
        "[check]\nweight = -20\n",
        Role::Master,
    );
    assert!(c.contains("weight -20"), "{c}");
}

#[test]
fn galera_checks_wsrep_primary_as_root() {
    let files = render_text(&cluster_toml("mariadb-galera", "l2-vip", ""), Role::Master);
    let c = keepalived_conf(&files);
    assert!(c.contains("vrrp_script hakit_check_galera_primary"), "{c}");
    assert!(c.contains("user root"), "{c}");
    let script = files
        .iter()
        .find(|f| f.path.ends_with("check_galera_primary.sh"))
        .expect("galera check");
    assert_eq!(script.mode, 0o700);
}

/// The rendered Galera check, run by sh with a stand-in `mysql` first on PATH that prints
/// what the server would (`-N -B`: name TAB value) or fails: healthy only when Primary and
/// Synced. (A real Galera node is the issue "Profiles that serve real traffic".)
#[test]
fn the_galera_check_passes_only_a_primary_synced_node() {
    use std::os::unix::fs::PermissionsExt;
    let files = render_text(&cluster_toml("mariadb-galera", "l2-vip", ""), Role::Master);
    let script = files
        .iter()
        .find(|f| f.path.ends_with("check_galera_primary.sh"))
        .expect("galera check");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("galera-check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let check = dir.join("check.sh");
    std::fs::write(&check, &script.contents).expect("script");
    let cases: &[(&str, &str, bool)] = &[
        (
            "Primary and Synced",
            "wsrep_cluster_status\tPrimary\nwsrep_local_state\t4\n",
            true,
        ),
        (
            "cut off from its cluster",
            "wsrep_cluster_status\tnon-Primary\nwsrep_local_state\t4\n",
            false,
        ),
        (
            "disconnected",
            "wsrep_cluster_status\tDisconnected\nwsrep_local_state\t0\n",
            false,
        ),
        (
            "a donor",
            "wsrep_cluster_status\tPrimary\nwsrep_local_state\t2\n",
            false,
        ),
        (
            "joining",
            "wsrep_cluster_status\tPrimary\nwsrep_local_state\t1\n",
            false,
        ),
        ("wsrep off (no rows)", "", false),
        ("the server is down", "FAIL", false),
    ];
    for (what, answer, healthy) in cases {
        let mysql = dir.join("mysql");
        let body = if *answer == "FAIL" {
            "#!/bin/sh\necho 'ERROR 2002 (HY000): Can'\\''t connect' >&2\nexit 1\n".to_string()
        } else {
            format!("#!/bin/sh\nprintf '{answer}'\n")
        };
        std::fs::write(&mysql, body).expect("mysql stand-in");
        std::fs::set_permissions(&mysql, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let status = std::process::Command::new("sh")
            .arg(&check)
            .env("PATH", path)
            .status()
            .expect("sh");
        assert_eq!(status.success(), *healthy, "{what}: exit {status:?}");
    }
}

#[test]
fn track_process_is_on_by_default_and_can_be_turned_off() {
    let on = conf("haproxy", "aws-eip", "", Role::Master);
    assert!(
        on.contains("vrrp_track_process hakit_proxy_process") && on.contains("process haproxy"),
        "{on}"
    );
    let off = conf(
        "haproxy",
        "aws-eip",
        "[check]\ntrack_process = false\n",
        Role::Master,
    );
    assert!(!off.contains("track_process"), "{off}");
}

#[test]
fn notify_master_rx_lower_pri_only_in_aws_eip_mode() {
    assert!(conf("proxysql", "aws-eip", "", Role::Backup).contains("notify_master_rx_lower_pri"));
    assert!(!conf("proxysql", "l2-vip", "", Role::Backup).contains("notify_master_rx_lower_pri"));
}

#[test]
fn notify_scripts_run_as_root_and_call_hakit_notify() {
    let files = render_text(&cluster_toml("haproxy", "aws-eip", ""), Role::Backup);
    let c = keepalived_conf(&files);
    for state in ["master", "backup", "fault", "stop"] {
        assert!(
            c.contains(&format!(
                "\"/usr/local/libexec/hakit/notify.sh {state}\" root"
            )),
            "{state}: {c}"
        );
    }
    let notify = files
        .iter()
        .find(|f| f.path.ends_with("notify.sh"))
        .expect("notify script");
    assert!(
        notify.contents.contains(
            "/usr/local/bin/hakit notify --config /etc/hakit/cluster.toml --node n2 \"$1\""
        ),
        "{}",
        notify.contents
    );
    assert_eq!((notify.mode, notify.owner.as_str()), (0o700, "root"));
}

#[test]
fn vrrp_v3_takes_a_sub_second_advert_int() {
    let c = conf(
        "haproxy",
        "aws-eip",
        "[vrrp]\nvirtual_router_id = 51\nversion = 3\nadvert_int = 0.2\n",
        Role::Master,
    );
    assert!(
        c.contains("advert_int 0.2") && c.contains("version 3"),
        "{c}"
    );
}

#[test]
fn auth_only_with_vrrp_v2() {
    let v2 = conf(
        "haproxy",
        "l2-vip",
        "[vrrp]\nvirtual_router_id = 51\nversion = 2\nadvert_int = 1\n",
        Role::Master,
    );
    assert!(
        v2.contains("auth_type PASS") && v2.contains("auth_pass TESTauth"),
        "{v2}"
    );
    let v3 = conf("haproxy", "l2-vip", "", Role::Master);
    assert!(!v3.contains("authentication"), "{v3}");
    let v2_off = conf(
        "haproxy",
        "l2-vip",
        "[vrrp]\nvirtual_router_id = 51\nversion = 2\nauth = false\n",
        Role::Master,
    );
    assert!(!v2_off.contains("authentication"), "{v2_off}");
}

#[test]
fn aws_eip_mode_has_a_link_local_marker_instead_of_a_vip() {
    let c = conf("haproxy", "aws-eip", "", Role::Master);
    assert!(c.contains("169.254.250.51/32 dev lo scope host"), "{c}");
    assert!(
        !c.contains("169.254.169.254"),
        "never touch the metadata address"
    );
}

#[test]
fn secrets_stay_out_of_world_readable_files() {
    for profile in PROFILES {
        for mode in MODES {
            let text = cluster_toml(
                profile,
                mode,
                "[vrrp]\nvirtual_router_id = 51\nversion = 2\n",
            );
            for file in render_text(&text, Role::Master) {
                let has_secret = ["TESTauth", "TESTadminPW", "TESTmonitorPW", "TESTstatsPW"]
                    .iter()
                    .any(|s| file.contents.contains(s));
                if has_secret {
                    assert_eq!(
                        file.mode & 0o007,
                        0,
                        "{} holds a secret but is world-readable ({:o})",
                        file.path.display(),
                        file.mode
                    );
                }
            }
        }
    }
}

#[test]
fn priorities_default_to_decreasing_in_node_order() {
    let cluster = parse(&cluster_toml("haproxy", "aws-eip", ""));
    let priorities: Vec<u8> = cluster.nodes.iter().map(|n| n.priority).collect();
    assert_eq!(priorities, vec![150, 140]);
    assert!(conf("haproxy", "aws-eip", "", Role::Backup).contains("priority 140"));
}

#[test]
fn backups_get_priorities_far_enough_apart_for_their_takeover_timers() {
    use hakit::config::validate::priority_step;
    // A pair keeps its 10-point gap; from three nodes the gap is 100/(n-1), at least 10,
    // so two backups' skew times differ by at least 19 ms (and 98 ms for three nodes).
    assert_eq!(priority_step(2), 10);
    assert_eq!(priority_step(3), 50);
    assert_eq!(priority_step(4), 33);
    assert_eq!(priority_step(11), 10);
    assert_eq!(priority_step(16), 10);
}

#[test]
fn three_nodes_get_falling_priorities_and_every_other_node_as_peer() {
    use crate::common::{shipped_profile, test_secrets};
    use hakit::render::{self, RenderInput};
    let text = cluster_toml("haproxy", "aws-eip", "").replacen(
        "address = \"192.0.2.12\"\n",
        "address = \"192.0.2.12\"\n\n[[node]]\nname = \"n3\"\naddress = \"192.0.2.13\"\n",
        1,
    );
    let cluster = parse(&text);
    let names: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["n1", "n2", "n3"], "{text}");
    let profile = shipped_profile(&cluster.profile);
    // A backup among several must be named.
    assert!(hakit::role::select(&cluster, Role::Backup, None).is_err());
    let ips = ["192.0.2.11", "192.0.2.12", "192.0.2.13"];
    for (i, (name, role)) in [
        ("n1", Role::Master),
        ("n2", Role::Backup),
        ("n3", Role::Backup),
    ]
    .into_iter()
    .enumerate()
    {
        let target = hakit::role::select(&cluster, role, Some(name)).expect("role");
        let files = render::render(&RenderInput {
            cluster: &cluster,
            target: &target,
            profile: &profile,
            secrets: &test_secrets(),
            templates: None,
        })
        .expect("render");
        let c = keepalived_conf(&files);
        assert!(c.contains(&format!("priority {}\n", 150 - 50 * i)), "{c}");
        assert!(c.contains("state BACKUP") && c.contains("nopreempt"), "{c}");
        let peers: Vec<&str> = ips.iter().copied().filter(|ip| *ip != ips[i]).collect();
        assert!(
            c.contains(&format!(
                "unicast_src_ip {}\n    unicast_peer {{\n        {}\n        {}\n    }}",
                ips[i], peers[0], peers[1]
            )),
            "{name}: {c}"
        );
    }
}

#[test]
fn a_startup_delay_is_rendered_only_when_asked_and_must_be_whole_seconds() {
    let with = cluster_toml(
        "haproxy",
        "l2-vip",
        "[vrrp]\nvirtual_router_id = 51\nstartup_delay = 3\n",
    );
    let files = render_text(&with, Role::Master);
    assert!(keepalived_conf(&files).contains("vrrp_startup_delay 3"));
    let files = render_text(&cluster_toml("haproxy", "l2-vip", ""), Role::Master);
    assert!(!keepalived_conf(&files).contains("vrrp_startup_delay"));
    let fractional = cluster_toml(
        "haproxy",
        "l2-vip",
        "[vrrp]\nvirtual_router_id = 51\nstartup_delay = 1.5\n",
    );
    let issues = hakit::config::parse(&fractional).expect_err("fractional");
    assert!(
        issues.iter().any(|i| i.field == "vrrp.startup_delay"),
        "{issues:?}"
    );
}

#[test]
fn haproxy_checks_each_backend_as_the_cluster_file_says() {
    let proxy_cfg = |extra: &str| {
        render_text(&cluster_toml("haproxy", "l2-vip", extra), Role::Master)
            .into_iter()
            .find(|f| f.path.ends_with("haproxy.cfg"))
            .expect("haproxy.cfg")
            .contents
    };
    assert!(proxy_cfg("").contains("    default-server inter 2s rise 2 fall 3\n"));
    let custom =
        proxy_cfg("\n[proxy]\nbackend_check_interval = 0.5\nbackend_rise = 4\nbackend_fall = 1\n");
    assert!(
        custom.contains("    default-server inter 500ms rise 4 fall 1\n"),
        "{custom}"
    );
    assert!(
        custom.contains(" check\n"),
        "every backend is checked: {custom}"
    );
}

/// After a healed split, the yielding master sends one more advert, so the master hears
/// a lower priority and announces the address again (the soak found clients stuck on the
/// yielding node's MAC without it).
#[test]
fn a_yielding_master_sends_one_more_advert_in_every_mode() {
    for mode in ["l2-vip", "aws-eip"] {
        let conf = render_text(&cluster_toml("haproxy", mode, ""), Role::Backup)
            .into_iter()
            .find(|f| f.path.ends_with("keepalived.conf"))
            .expect("keepalived.conf")
            .contents;
        assert!(
            conf.contains("    higher_prio_send_advert true\n"),
            "{mode}: {conf}"
        );
    }
}
