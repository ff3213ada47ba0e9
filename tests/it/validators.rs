//! Every rendering checked by the real tools: `keepalived -t -f` (Debian's keepalived 2.2.7)
//! and `haproxy -c -f`. Needs root (script ownership, keepalived's PID-namespace workaround);
//! under CI=true a missing prerequisite fails the test.

use crate::common::{
    cluster_toml, must_run_privileged, parse, require_tool, shipped_profile, some_interface,
    test_secrets, MODES, PROFILES, ROLES,
};
use hakit::render::{self, FileKind, RenderInput};
use hakit::role;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory keepalived accepts for scripts: every ancestor root-owned and not
/// writable by others (so not under /tmp), and traversable by keepalived_script.
fn secure_scratch(name: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("validators")
        .join(name);
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("scratch dir");
    let mut dir = Some(base.as_path());
    while let Some(d) = dir {
        let mode = std::fs::metadata(d).expect("stat").permissions().mode();
        assert!(
            mode & 0o002 == 0 || mode & 0o1000 != 0,
            "{} is world-writable: keepalived would refuse scripts below it",
            d.display()
        );
        if d.starts_with(env!("CARGO_TARGET_TMPDIR")) {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))
                .expect("chmod scratch");
        }
        dir = d.parent();
    }
    base
}

fn chgrp(group: &str, path: &Path) {
    let status = Command::new("chgrp")
        .arg(group)
        .arg(path)
        .status()
        .expect("chgrp");
    assert!(
        status.success(),
        "chgrp {group} {} (does the user exist? `.ci/run` creates keepalived_script)",
        path.display()
    );
}

const FORBIDDEN: &[&str] = &[
    "WARNING",
    "Unsafe permissions",
    "insecure",
    "nopreempt",
    "not executable",
    "Disabling",
    "not found",
    "Unknown keyword",
];

#[test]
fn every_rendering_passes_the_real_validators() {
    if !must_run_privileged("validating renderings with keepalived -t and haproxy -c") {
        return;
    }
    assert!(require_tool("keepalived") && require_tool("haproxy") && require_tool("unshare"));
    let iface = some_interface();
    let mut checked = 0;
    for profile in PROFILES {
        for mode in MODES {
            for version in [2, 3] {
                for role in ROLES {
                    let name = format!("{profile}-{mode}-v{version}-{}", role.as_str());
                    let root = secure_scratch(&name);
                    let extra = format!(
                        "[vrrp]\nvirtual_router_id = 51\nversion = {version}\ninterface = \"{iface}\"\n\n[check]\ntrack_process = true\n\n[paths]\nkeepalived_dir = \"{r}/keepalived\"\nscript_dir = \"{r}/scripts\"\nproxy_config_dir = \"{r}/proxy\"\nconfig_dir = \"{r}/hakit\"\nrun_dir = \"{r}/run\"\ntmpfiles_dir = \"{r}/tmpfiles.d\"\n",
                        r = root.display()
                    );
                    let text = cluster_toml(profile, mode, &extra)
                        .replace("interface = \"eth0\"", &format!("interface = \"{iface}\""));
                    let cluster = parse(&text);
                    let target = role::select(&cluster, *role, None).expect("role");
                    let prof = shipped_profile(profile);
                    let files = render::render(&RenderInput {
                        cluster: &cluster,
                        target: &target,
                        profile: &prof,
                        secrets: &test_secrets(),
                        templates: None,
                    })
                    .expect("render");
                    render::write_tree(Path::new("/"), &files).expect("write files at their paths");
                    for file in files.iter().filter(|f| f.kind == FileKind::CheckScript) {
                        if file.group != "root" {
                            chgrp(&file.group, &file.path);
                        }
                    }
                    for file in files.iter().filter(|f| !f.validate.is_empty()) {
                        let verdict = validate(file, &file.path);
                        assert!(
                            verdict.success,
                            "{name}: `{}` exited {:?}:\n{}\n--- file ---\n{}",
                            render::validate_command(file, &file.path).join(" "),
                            verdict.code,
                            verdict.output,
                            file.contents
                        );
                        for word in FORBIDDEN {
                            assert!(
                                !verdict.output.contains(word),
                                "{name}: `{}` said {word:?}:\n{}",
                                render::validate_command(file, &file.path).join(" "),
                                verdict.output
                            );
                        }
                        checked += 1;
                    }
                    let kinds: Vec<FileKind> = files
                        .iter()
                        .filter(|f| !f.validate.is_empty())
                        .map(|f| f.kind)
                        .collect();
                    assert!(kinds.contains(&FileKind::KeepalivedConf), "{name}");
                    if *profile == "haproxy" {
                        assert!(
                            kinds.contains(&FileKind::ProxyConfig),
                            "{name}: haproxy.cfg must be validated"
                        );
                    }
                    let _ = std::fs::remove_dir_all(&root);
                }
            }
        }
    }
    eprintln!("validated {checked} rendered files with the real keepalived and haproxy");
    assert_eq!(
        checked,
        3 * 2 * 2 * 2 + 2 * 2 * 2,
        "keepalived.conf for every case plus haproxy.cfg for the haproxy ones"
    );
}

#[test]
fn a_broken_keepalived_conf_is_caught_by_the_validator() {
    if !must_run_privileged("running keepalived -t") || !require_tool("keepalived") {
        return;
    }
    let root = secure_scratch("broken");
    let text = cluster_toml("haproxy", "l2-vip", "");
    let cluster = parse(&text);
    let target = role::select(&cluster, role::Role::Master, None).expect("role");
    let prof = shipped_profile("haproxy");
    let files = render::render(&RenderInput {
        cluster: &cluster,
        target: &target,
        profile: &prof,
        secrets: &test_secrets(),
        templates: None,
    })
    .expect("render");
    let mut conf = files
        .into_iter()
        .find(|f| f.kind == FileKind::KeepalivedConf)
        .expect("conf");
    conf.contents.push_str("\nnot_a_keepalived_keyword 1\n");
    let path = root.join("keepalived.conf");
    std::fs::write(&path, &conf.contents).expect("write");
    let verdict = validate(&conf, &path);
    assert!(
        !verdict.success,
        "keepalived -t accepted a broken config:\n{}",
        verdict.output
    );
}

/// Run `file`'s real validator on `path`, as setup and `render --validate` do.
fn validate(file: &hakit::render::RenderedFile, path: &Path) -> hakit::host::CommandOutput {
    use hakit::host::Host;
    let argv = render::validate_command(file, path);
    assert!(!argv.is_empty(), "{} has a validator", file.path.display());
    hakit::host::RealHost
        .run(&argv)
        .expect("the validator runs")
}

/// `hakit render --validate` on a machine that is not the node: keepalived -t sees the
/// rendered scripts under --out, and an interface only the node has (the l2-galera
/// example's enp0s8) is a note about this machine, not a failure of the file.
#[test]
fn render_validate_checks_the_rendered_tree_and_names_what_this_machine_lacks() {
    if !must_run_privileged("render --validate") || !require_tool("keepalived") {
        return;
    }
    if std::path::Path::new("/sys/class/net/enp0s8").exists() {
        return; // this machine has the example's interface: nothing to tell apart
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = dir.path().join("secrets.toml");
    std::fs::write(&secrets, crate::common::TEST_SECRETS).expect("secrets");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = dir.path().join("out");
    let run = crate::common::run(
        crate::common::hakit()
            .args(["render", "--validate", "--role", "master", "--config"])
            .arg(format!(
                "{}/examples/l2-galera.toml",
                env!("CARGO_MANIFEST_DIR")
            ))
            .arg("--secrets")
            .arg(&secrets)
            .arg("--out")
            .arg(&out),
    );
    let stderr = crate::common::stderr(&run);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("interface enp0s8 does not exist on this machine"),
        "{stderr}"
    );
    assert!(
        crate::common::stdout(&run).contains("keepalived.conf  valid"),
        "{}",
        crate::common::stdout(&run)
    );
    let leftovers: Vec<_> = std::fs::read_dir(out.join("etc/keepalived"))
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "only keepalived.conf: {leftovers:?}");
}
