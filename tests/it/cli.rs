//! The real binary: subcommands, exit codes, stdout vs stderr, non-interactive init.

use crate::common::{hakit, run, stderr, stdout};
use std::path::Path;

pub const SUBCOMMANDS: &[&str] = &[
    "init",
    "plan",
    "render",
    "setup",
    "rollback",
    "status",
    "notify",
    "iam",
    "completions",
    "man",
];

#[test]
fn help_lists_every_subcommand() {
    let out = run(hakit().arg("--help"));
    assert!(out.status.success());
    let help = stdout(&out);
    for sub in SUBCOMMANDS {
        assert!(
            help.contains(&format!("  {sub} ")),
            "`{sub}` missing from --help:\n{help}"
        );
    }
}

#[test]
fn plan_on_every_shipped_example_needs_no_aws_and_prints_steps() {
    let examples = ["aws-proxysql", "aws-haproxy", "l2-haproxy"];
    for example in examples {
        let config = format!("{}/examples/{example}.toml", env!("CARGO_MANIFEST_DIR"));
        let out = run(hakit().args(["plan", "--role", "master", "--config", &config]));
        assert!(out.status.success(), "{example}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.contains("keepalived.conf")
                && text.contains("start keepalived if it is not running; reload it if"),
            "{example}: {text}"
        );
        assert!(
            stderr(&out).contains("Nothing was changed"),
            "the hint goes to stderr"
        );
    }
    // The proxysql example says what every backend needs, without the password.
    let config = format!("{}/examples/aws-proxysql.toml", env!("CARGO_MANIFEST_DIR"));
    let out = run(hakit().args(["plan", "--role", "master", "--config", &config]));
    let text = stdout(&out);
    assert!(
        text.contains("CREATE USER IF NOT EXISTS 'hakit_monitor'@'%' IDENTIFIED BY '<proxy_monitor_password from the secrets file>';")
            && text.contains("GRANT USAGE, REPLICATION CLIENT ON *.* TO 'hakit_monitor'@'%';")
            && text.contains("load servers, users and query rules into it through its admin interface"),
        "{text}"
    );
    let galera = format!("{}/examples/l2-galera.toml", env!("CARGO_MANIFEST_DIR"));
    let out = run(hakit().args([
        "plan", "--role", "backup", "--node", "node3", "--config", &galera,
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn plan_json_is_one_parseable_document_on_stdout() {
    let config = format!("{}/examples/aws-proxysql.toml", env!("CARGO_MANIFEST_DIR"));
    let out = run(hakit().args([
        "plan", "--role", "master", "--output", "json", "--config", &config,
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(plan["role"], "master");
    assert_eq!(plan["mode"], "aws-eip");
    let actions: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["action"].as_str())
        .collect();
    assert!(actions.contains(&"associate-elastic-ip"), "{actions:?}");
    let backup = run(hakit().args([
        "plan", "--role", "backup", "--output", "json", "--config", &config,
    ]));
    let plan: serde_json::Value = serde_json::from_slice(&backup.stdout).expect("stdout is JSON");
    let actions: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["action"].as_str())
        .collect();
    assert!(
        !actions.contains(&"associate-elastic-ip"),
        "a backup never takes the EIP at setup: {actions:?}"
    );
    assert!(actions.contains(&"create-eni"), "{actions:?}");
}

#[test]
fn a_backup_among_several_needs_node_and_says_so() {
    let config = format!("{}/examples/l2-galera.toml", env!("CARGO_MANIFEST_DIR"));
    let out = run(hakit().args(["plan", "--role", "backup", "--config", &config]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--node"), "{}", stderr(&out));
}

fn init_args(dir: &Path) -> Vec<String> {
    [
        "init",
        "--non-interactive",
        "--profile",
        "haproxy",
        "--cluster",
        "demo",
        "--mode",
        "aws-eip",
        "--eip-allocation-id",
        "eipalloc-0abc1234",
        "--node",
        "n1=10.0.1.11",
        "--node",
        "n2=10.0.2.11",
        "--backend",
        "10.0.1.21:3306",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        "--out".to_string(),
        dir.join("hakit.toml").display().to_string(),
    ])
    .collect()
}

#[test]
fn init_creates_the_directory_it_writes_into() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("etc/hakit");
    let out = run(hakit().args(init_args(&nested)));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(hakit::config::load(&nested.join("hakit.toml")).is_ok());
    assert!(nested.join("hakit.secrets.toml").exists());
}

#[test]
fn non_interactive_init_writes_a_valid_cluster_file_and_root_only_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(hakit().args(init_args(dir.path())));
    assert!(out.status.success(), "{}", stderr(&out));
    let cluster =
        hakit::config::load(&dir.path().join("hakit.toml")).expect("init writes a valid file");
    assert_eq!(cluster.name, "demo");
    assert_eq!(cluster.nodes.len(), 2);
    let secrets_path = dir.path().join("hakit.secrets.toml");
    let mode = std::fs::metadata(&secrets_path)
        .expect("secrets written")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let secrets = hakit::secrets::Secrets::load(&secrets_path).expect("valid secrets");
    let everything = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !everything.contains(secrets.stats_password.expose()),
        "a secret was printed"
    );
    let cluster_text = std::fs::read_to_string(dir.path().join("hakit.toml")).expect("read");
    assert!(
        !cluster_text.contains(secrets.proxy_admin_password.expose())
            && !cluster_text.contains(secrets.stats_password.expose()),
        "a secret went into the cluster file"
    );
    assert_eq!(
        secrets.vrrp_auth, None,
        "no VRRP password for the default VRRPv3, which never uses one"
    );

    // A second init keeps the secrets and refuses to replace the cluster file without --force.
    let again = run(hakit().args(init_args(dir.path())));
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    let forced = run(hakit().args(init_args(dir.path())).arg("--force"));
    assert!(forced.status.success(), "{}", stderr(&forced));
    let kept = hakit::secrets::Secrets::load(&secrets_path).expect("still valid");
    assert_eq!(kept, secrets, "an existing secrets file is never replaced");
}

#[test]
fn non_interactive_init_lists_every_missing_value_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(hakit()
        .current_dir(dir.path())
        .args(["init", "--mode", "l2-vip"])
        .env("CI", "true"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for flag in ["--cluster", "--profile", "--vip", "--interface", "--node"] {
        assert!(err.contains(flag), "{flag} not listed: {err}");
    }
    assert!(!dir.path().join("hakit.toml").exists());
}

#[test]
fn render_writes_files_at_their_paths_with_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = dir.path().join("secrets.toml");
    hakit::secrets::Secrets::generate()
        .expect("random")
        .write_new(&secrets)
        .expect("write");
    let config = format!("{}/examples/aws-haproxy.toml", env!("CARGO_MANIFEST_DIR"));
    let out_dir = dir.path().join("out");
    let out = run(hakit()
        .args(["render", "--role", "backup", "--config", &config])
        .arg("--secrets")
        .arg(&secrets)
        .arg("--out")
        .arg(&out_dir));
    assert!(out.status.success(), "{}", stderr(&out));
    let conf = out_dir.join("etc/keepalived/keepalived.conf");
    assert_eq!(
        std::fs::metadata(&conf).expect("conf").permissions().mode() & 0o777,
        0o600
    );
    let notify = out_dir.join("usr/local/libexec/hakit/notify.sh");
    assert_eq!(
        std::fs::metadata(&notify)
            .expect("notify")
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let haproxy =
        std::fs::read_to_string(out_dir.join("etc/haproxy/haproxy.cfg")).expect("haproxy.cfg");
    assert!(
        haproxy.contains("bind :8563") && haproxy.contains("bind :9090"),
        "{haproxy}"
    );
    assert!(stdout(&out).contains("keepalived.conf"));
}

#[test]
fn render_without_secrets_exits_2_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!("{}/examples/aws-haproxy.toml", env!("CARGO_MANIFEST_DIR"));
    let out = run(hakit()
        .args(["render", "--role", "master", "--config", &config])
        .arg("--secrets")
        .arg(dir.path().join("nope.toml"))
        .arg("--out")
        .arg(dir.path().join("out")));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("secrets"), "{}", stderr(&out));
    assert!(!dir.path().join("out").exists());
}

#[test]
fn vrrp_auth_is_required_only_where_the_cluster_uses_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("cluster.toml");
    let text = crate::common::cluster_toml(
        "haproxy",
        "l2-vip",
        "[vrrp]\nvirtual_router_id = 51\nversion = 2\nauth = true\n",
    );
    std::fs::write(&config, text).expect("config");
    let secrets = dir.path().join("secrets.toml");
    let without_auth: String = crate::common::TEST_SECRETS
        .lines()
        .filter(|l| !l.starts_with("vrrp_auth"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&secrets, without_auth).expect("secrets");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let render = || {
        run(hakit()
            .args(["render", "--role", "master", "--config"])
            .arg(&config)
            .arg("--secrets")
            .arg(&secrets)
            .arg("--out")
            .arg(dir.path().join("out")))
    };
    let out = render();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("vrrp_auth"), "{}", stderr(&out));
    std::fs::write(&secrets, crate::common::TEST_SECRETS).expect("secrets");
    let out = render();
    assert!(out.status.success(), "{}", stderr(&out));
    let conf = std::fs::read_to_string(dir.path().join("out/etc/keepalived/keepalived.conf"))
        .expect("conf");
    assert!(conf.contains("auth_pass TESTauth"), "{conf}");
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(hakit().args(["completions", shell]));
        assert!(out.status.success(), "{shell}");
        assert!(stdout(&out).contains("render"), "{shell}");
    }
}

#[test]
fn notify_needs_a_node_and_a_state() {
    let config = format!("{}/examples/aws-haproxy.toml", env!("CARGO_MANIFEST_DIR"));
    let out = run(hakit().args(["notify", "master", "--config", &config]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--node"), "{}", stderr(&out));
    let out = run(hakit().args(["notify", "--node", "lb-1", "--config", &config]));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a state or --reconcile is required: {}",
        stderr(&out)
    );
}

#[test]
fn every_plan_action_is_documented_in_the_json_schema() {
    let doc = std::fs::read_to_string(format!("{}/docs/json.md", env!("CARGO_MANIFEST_DIR")))
        .expect("docs/json.md");
    for example in ["aws-proxysql", "aws-haproxy", "l2-haproxy"] {
        let config = format!("{}/examples/{example}.toml", env!("CARGO_MANIFEST_DIR"));
        let out = run(hakit().args([
            "plan", "--role", "master", "--output", "json", "--config", &config,
        ]));
        let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        for key in [
            "cluster",
            "node",
            "role",
            "mode",
            "profile",
            "package_manager",
            "steps",
            "warnings",
        ] {
            assert!(
                plan.get(key).is_some() && doc.contains(&format!("\"{key}\"")),
                "{key} missing from the output or the doc"
            );
        }
        for step in plan["steps"].as_array().expect("steps") {
            let action = step["action"].as_str().expect("action");
            assert!(
                doc.contains(&format!("`{action}`")),
                "action {action} is not documented in docs/json.md"
            );
            if let Some(kind) = step.get("kind").and_then(|k| k.as_str()) {
                assert!(
                    doc.contains(&format!("`{kind}`")),
                    "file kind {kind} is not documented"
                );
            }
        }
    }
}

#[test]
fn man_page_is_generated_from_the_cli() {
    let out = run(hakit().arg("man"));
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(
        page.starts_with(".ie") || page.contains(".TH hakit"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains("rollback"));
}

#[test]
fn quiet_and_verbose_are_global_and_exclusive() {
    let out = run(hakit().args(["-q", "-v", "status"]));
    assert_eq!(out.status.code(), Some(2));
}
