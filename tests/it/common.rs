//! Helpers shared by the integration tests: cluster files for every profile x mode,
//! fixed test-only secrets, and running the real binary.

use hakit::config::{self, Cluster};
use hakit::profile::{self, Profile};
use hakit::render::{self, RenderInput, RenderedFile};
use hakit::role::{self, Role};
use hakit::secrets::Secrets;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const PROFILES: &[&str] = &["haproxy", "proxysql", "mariadb-galera"];
pub const MODES: &[&str] = &["aws-eip", "l2-vip"];
pub const ROLES: &[Role] = &[Role::Master, Role::Backup];

/// Test-only values, obviously not real credentials.
pub const TEST_SECRETS: &str = r#"
vrrp_auth = "TESTauth"
proxy_admin_password = "TESTadminPW"
proxy_monitor_password = "TESTmonitorPW"
stats_password = "TESTstatsPW"
"#;

pub fn test_secrets() -> Secrets {
    Secrets::parse(TEST_SECRETS).expect("test secrets are valid")
}

/// An empty directory `name` under the tests' own temporary directory (what a previous run
/// left there removed first).
pub fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the test's directory");
    dir
}

/// A complete cluster file for `profile` in `mode`, with `extra` TOML appended
/// (extra tables such as `[paths]` or `[check]`).
pub fn cluster_toml(profile: &str, mode: &str, extra: &str) -> String {
    let mut text = format!("name = \"demo\"\nmode = \"{mode}\"\nprofile = \"{profile}\"\n");
    text.push_str("\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n");
    text.push_str("\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n");
    if profile != "mariadb-galera" {
        text.push_str("\n[[backend]]\naddress = \"192.0.2.21:3306\"\n\n[[backend]]\naddress = \"192.0.2.22:3306\"\n");
    }
    match mode {
        "aws-eip" => text.push_str("\n[aws]\neip_allocation_id = \"eipalloc-0123456789abcdef0\"\n"),
        _ => text.push_str("\n[vip]\naddress = \"192.0.2.100/24\"\ninterface = \"eth0\"\n"),
    }
    if !extra.contains("[vrrp]") {
        text.push_str("\n[vrrp]\nvirtual_router_id = 51\n");
    }
    text.push_str(extra);
    text
}

/// Parse a cluster file the tests know is valid; an unset `paths.hakit_bin` becomes the
/// installed path `hakit setup` would find when run from /usr/local/bin.
pub fn parse(text: &str) -> Cluster {
    let mut cluster = config::parse(text)
        .unwrap_or_else(|issues| panic!("cluster file should be valid: {issues:#?}\n{text}"));
    cluster
        .paths
        .hakit_bin
        .get_or_insert_with(|| "/usr/local/bin/hakit".into());
    cluster
}

pub fn shipped_profile(name: &str) -> Profile {
    profile::load(name, Path::new(".")).expect("shipped profile")
}

/// Render `role`'s files for a cluster file text.
pub fn render_text(text: &str, role: Role) -> Vec<RenderedFile> {
    render_text_with(text, role, &test_secrets())
}

/// The same with `secrets`.
pub fn render_text_with(text: &str, role: Role, secrets: &Secrets) -> Vec<RenderedFile> {
    let cluster = parse(text);
    let profile = shipped_profile(&cluster.profile);
    let target = role::select(&cluster, role, None).expect("role");
    render::render(&RenderInput {
        cluster: &cluster,
        target: &target,
        profile: &profile,
        secrets,
        templates: None,
    })
    .expect("render")
}

pub fn keepalived_conf(files: &[RenderedFile]) -> &str {
    &files
        .iter()
        .find(|f| f.kind == render::FileKind::KeepalivedConf)
        .expect("a keepalived.conf")
        .contents
}

/// The lab bridges' own MAC, fixed as a VPC router's is: a Linux bridge otherwise takes its
/// lowest port's, so a hotplugged ENI (02:00:00:..., lower than any veth's) joining or
/// leaving changed it and flushed every neighbour table (nodes lost the lab's hosts for
/// 10-20 s).
pub const LAB_BRIDGE_MAC: &str = "0e:00:00:00:00:01";

/// The lab bridge `br0`, with its fixed MAC, up in network namespace `ns`.
pub fn add_lab_bridge(ns: &str) {
    for args in [
        &[
            "link",
            "add",
            "br0",
            "address",
            LAB_BRIDGE_MAC,
            "type",
            "bridge",
        ][..],
        &["link", "set", "br0", "up"][..],
    ] {
        let out = Command::new("ip")
            .args(["-n", ns])
            .args(args)
            .output()
            .expect("ip");
        assert!(
            out.status.success(),
            "ip -n {ns} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The hakit binary built for these tests.
pub fn hakit() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hakit"));
    cmd.stdin(Stdio::null())
        .env_remove("HAKIT_CONFIG")
        .env_remove("HAKIT_ROLE")
        .env_remove("HAKIT_NODE");
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running hakit")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// True when tests that need root and real packages must run: always under CI=true (they
/// fail loudly there if something is missing), otherwise only when we are root.
pub fn must_run_privileged(what: &str) -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    // SAFETY-free check: /proc/self/status tells our effective uid.
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if root {
        return true;
    }
    if ci {
        panic!("{what} needs root under CI=true; run the tests as root (`.ci/run` does)");
    }
    eprintln!("SKIPPED {what}: needs root (set CI=true to make this a failure)");
    false
}

/// Fail (under CI) or skip when a tool is missing.
pub fn require_tool(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    if found {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if ci {
        panic!("`{tool}` is not installed; `.ci/run` installs it with apt-get");
    }
    eprintln!("SKIPPED: `{tool}` is not installed (apt-get install it; under CI=true this fails)");
    false
}

/// An interface that exists on this machine (other than lo), for keepalived's checks.
pub fn some_interface() -> String {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .expect("/sys/class/net")
        .filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok()))
        .filter(|n| n != "lo")
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .expect("a network interface other than lo")
}

/// One heavy lab at a time (the namespace labs of e2e and the booted containers): their
/// VRRP and check timings are measured, and suffer when they share the machine's two cores.
static HEAVY_LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Wait for this test's turn to run a heavy lab; the turn ends when the guard drops.
pub fn heavy_lab_turn() -> std::sync::MutexGuard<'static, ()> {
    HEAVY_LAB
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
