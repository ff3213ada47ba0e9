//! The real binary on a real file tree (as root): setup, setup again (no change), rollback
//! (every managed file byte-identical to before), and SIGKILL after every step followed by
//! rollback. Paths live under target/tmp so nothing outside the test tree is touched; the
//! packages and the keepalived_script user are already there (`.ci/run` installs them), so
//! those steps are no-ops.

use crate::common::{
    cluster_toml, hakit, must_run_privileged, require_tool, run, some_interface, stderr, stdout,
    TEST_SECRETS,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

/// Every file and directory under `root`: relative path -> (mode, sha256 or "dir").
fn tree(root: &Path) -> BTreeMap<PathBuf, (u32, String)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let rel = path.strip_prefix(root).expect("under root").to_path_buf();
            if meta.is_dir() {
                out.insert(rel, (meta.permissions().mode() & 0o7777, "dir".into()));
                stack.push(path);
            } else {
                let hash: String = Sha256::digest(std::fs::read(&path).expect("read"))
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                out.insert(rel, (meta.permissions().mode() & 0o7777, hash));
            }
        }
    }
    out
}

pub struct Lab {
    pub root: PathBuf,
    pub config: PathBuf,
    pub secrets: PathBuf,
}

/// A host tree under target/tmp with a hand-made keepalived.conf and a packaged haproxy.cfg,
/// and an l2-vip cluster file whose paths all point into it.
pub fn lab(name: &str) -> Lab {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("setup")
        .join(name);
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("etc/keepalived")).expect("dirs");
    std::fs::create_dir_all(root.join("etc/haproxy")).expect("dirs");
    for d in [
        base.parent().expect("parent"),
        &base,
        &root,
        &root.join("etc"),
        &root.join("etc/keepalived"),
        &root.join("etc/haproxy"),
    ] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    // What a host has before hakit: a hand-made keepalived.conf and a packaged haproxy.cfg.
    std::fs::write(
        root.join("etc/keepalived/keepalived.conf"),
        "# hand-made, from setup_master.sh\nvrrp_instance VI_1 {\n}\n",
    )
    .expect("seed");
    std::fs::write(root.join("etc/haproxy/haproxy.cfg"), "global\n    daemon\n").expect("seed");
    let r = root.display();
    let extra = format!(
        "[vrrp]\nvirtual_router_id = 61\ninterface = \"{i}\"\n\n[paths]\nkeepalived_dir = \"{r}/etc/keepalived\"\nconfig_dir = \"{r}/etc/hakit\"\nstate_dir = \"{r}/var/lib/hakit\"\nscript_dir = \"{r}/usr/local/libexec/hakit\"\nlog_dir = \"{r}/var/log/hakit\"\nrun_dir = \"{r}/run/hakit\"\ntmpfiles_dir = \"{r}/etc/tmpfiles.d\"\nproxy_config_dir = \"{r}/etc/haproxy\"\n",
        i = some_interface()
    );
    let text = cluster_toml("haproxy", "l2-vip", &extra).replace(
        "interface = \"eth0\"",
        &format!("interface = \"{}\"", some_interface()),
    );
    let config = base.join("cluster.toml");
    std::fs::write(&config, text).expect("config");
    let secrets = base.join("secrets.toml");
    std::fs::write(&secrets, TEST_SECRETS).expect("secrets");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    Lab {
        root,
        config,
        secrets,
    }
}

/// Setup as config management runs it: no terminal, and `--yes` because the lab's tree
/// holds a hand-made keepalived.conf that the test means to replace.
fn setup(lab: &Lab) -> std::process::Command {
    let mut cmd = hakit();
    cmd.args([
        "setup",
        "--yes",
        "--role",
        "master",
        "--no-start",
        "--config",
    ])
    .arg(&lab.config)
    .arg("--secrets")
    .arg(&lab.secrets);
    cmd
}

fn rollback(lab: &Lab) -> std::process::Output {
    run(hakit().args(["rollback", "--config"]).arg(&lab.config))
}

pub fn ready(what: &str) -> bool {
    must_run_privileged(what)
        && require_tool("keepalived")
        && require_tool("haproxy")
        && require_tool("unshare")
}

#[test]
fn setup_twice_then_rollback_leaves_the_tree_byte_identical() {
    if !ready("setup and rollback on a file tree") {
        return;
    }
    let lab = lab("roundtrip");
    let before = tree(&lab.root);
    let out = run(&mut setup(&lab));
    assert!(out.status.success(), "setup failed:\n{}", stderr(&out));
    let after = tree(&lab.root);
    assert_ne!(before, after, "setup changed nothing");
    let conf =
        std::fs::read_to_string(lab.root.join("etc/keepalived/keepalived.conf")).expect("conf");
    assert!(conf.contains("Managed by hakit"), "{conf}");
    let secrets_mode = std::fs::metadata(lab.root.join("etc/hakit/secrets.toml"))
        .expect("secrets installed")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(secrets_mode, 0o600);

    let again = run(&mut setup(&lab));
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("[done]"),
        "a second setup must change nothing:\n{}",
        stderr(&again)
    );
    assert_eq!(tree(&lab.root), after);

    let out = rollback(&lab);
    assert!(out.status.success(), "rollback failed:\n{}", stderr(&out));
    let restored = tree(&lab.root);
    let files = before.values().filter(|(_, h)| h != "dir").count();
    assert_eq!(
        restored, before,
        "rollback must restore every managed file byte for byte"
    );
    eprintln!("figure: setup+rollback round trip: {files} of {files} pre-existing files byte-identical, {} paths compared, 0 left behind", before.len());
}

/// Without a terminal and without --yes, setup does not replace a hand-made config: it
/// names it, says which flag allows it, exits 2, and changes nothing at all.
#[test]
fn a_hand_made_config_is_not_replaced_without_consent() {
    if !ready("setup on a file tree") {
        return;
    }
    let lab = lab("consent");
    let before = tree(&lab.root);
    let out = run(hakit()
        .args(["setup", "--role", "master", "--no-start", "--config"])
        .arg(&lab.config)
        .arg("--secrets")
        .arg(&lab.secrets));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("etc/keepalived/keepalived.conf") && text.contains("--yes"),
        "{text}"
    );
    assert_eq!(tree(&lab.root), before, "nothing changed");
    let plan = run(hakit()
        .args(["plan", "--role", "master", "--config"])
        .arg(&lab.config)
        .arg("--secrets")
        .arg(&lab.secrets));
    assert!(
        stderr(&plan).contains("keepalived.conf exists and was not written by hakit"),
        "plan names it:\n{}",
        stderr(&plan)
    );
}

#[test]
fn sigkill_after_any_step_then_rollback_restores_the_tree() {
    if !ready("crash tests") {
        return;
    }
    let lab = lab("crash");
    let before = tree(&lab.root);
    let plan = run(hakit()
        .args(["plan", "--role", "master", "--output", "json", "--config"])
        .arg(&lab.config)
        .arg("--secrets")
        .arg(&lab.secrets));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan json");
    let steps = plan["steps"].as_array().expect("steps").len();
    assert!(steps >= 10, "{steps}");
    for k in 1..=steps {
        let out = run(setup(&lab).env("HAKIT_TEST_CRASH_AFTER_STEP", k.to_string()));
        assert_eq!(
            out.status.signal(),
            Some(9),
            "step {k}: setup should have been SIGKILLed:\n{}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(&format!("test crash: killed at after step {k}\n")),
            "step {k}: killed, but not at the named point:\n{}",
            stderr(&out)
        );
        let rb = rollback(&lab);
        assert!(
            rb.status.success(),
            "step {k}: rollback failed:\n{}",
            stderr(&rb)
        );
        assert_eq!(
            tree(&lab.root),
            before,
            "step {k}: tree differs after crash + rollback"
        );
    }
    let out = run(&mut setup(&lab));
    assert!(
        out.status.success(),
        "a fresh setup after the crashes: {}",
        stderr(&out)
    );
    assert!(rollback(&lab).status.success());
    assert_eq!(tree(&lab.root), before);
    eprintln!(
        "figure: killed setup after each of {steps} steps; rollback restored the tree every time"
    );
}

/// Inside the steps: SIGKILL at every journal event of a real setup (after each intent is
/// persisted, and after each side effect before its done mark), then rollback.
#[test]
fn sigkill_at_every_journal_event_then_rollback_restores_the_tree() {
    if !ready("crash tests") {
        return;
    }
    let lab = lab("crash-events");
    let before = tree(&lab.root);
    let mut killed = 0;
    for event in 1..=200 {
        let out = run(setup(&lab).env("HAKIT_TEST_CRASH_AT_EVENT", event.to_string()));
        if out.status.success() {
            break;
        }
        assert_eq!(
            out.status.signal(),
            Some(9),
            "event {event}: setup should have been SIGKILLed:\n{}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(&format!("test crash: killed at journal event {event} (")),
            "event {event}: killed, but not at the named point:\n{}",
            stderr(&out)
        );
        killed += 1;
        let rb = rollback(&lab);
        assert!(
            rb.status.success(),
            "event {event}: rollback failed:\n{}",
            stderr(&rb)
        );
        assert_eq!(
            tree(&lab.root),
            before,
            "event {event}: tree differs after crash + rollback"
        );
    }
    assert!(
        killed >= 20,
        "only {killed} journal events in a whole setup"
    );
    assert!(rollback(&lab).status.success());
    assert_eq!(tree(&lab.root), before);
    eprintln!("figure: killed setup at each of its {killed} journal events; rollback restored the tree every time");
}

#[test]
fn a_failed_validation_rolls_back_with_rollback_on_error() {
    if !ready("validation failure") {
        return;
    }
    let lab = lab("invalid");
    let before = tree(&lab.root);
    // An interface that does not exist makes keepalived -t fail.
    let text = std::fs::read_to_string(&lab.config)
        .expect("config")
        .replace(
            &format!("interface = \"{}\"", some_interface()),
            "interface = \"nosuch0\"",
        );
    std::fs::write(&lab.config, text).expect("config");
    let out = run(setup(&lab).arg("--rollback-on-error"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("failed validation") && err.contains("rolled back"),
        "{err}"
    );
    let first_error = err.find("error:").expect("error printed");
    assert!(
        first_error < err.find("[undo]").unwrap_or(usize::MAX),
        "the cause comes before the cleanup"
    );
    assert_eq!(tree(&lab.root), before);
    assert!(!lab.root.join("var/lib/hakit").exists());
}

fn installed(package: &str) -> bool {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// The real package manager: a profile that needs `hello` (absent) and keepalived
/// (present). Setup installs only the first; rollback removes only what setup installed.
#[test]
fn setup_installs_what_is_missing_and_rollback_removes_only_that() {
    if !ready("installing a real package with apt") || !require_tool("apt-get") {
        return;
    }
    let lab = lab("packages");
    if installed("hello") {
        // Left over from an interrupted run: start from "absent".
        let out = std::process::Command::new("apt-get")
            .args(["remove", "-y", "-q", "hello"])
            .output()
            .expect("apt-get");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        installed("keepalived"),
        "keepalived is installed by .ci/run"
    );
    let profile = include_str!("../../profiles/haproxy.toml")
        .replace("name = \"haproxy\"", "name = \"haproxy-with-hello\"")
        .replace(
            "debian = [\"keepalived\", \"haproxy\"]",
            "debian = [\"keepalived\", \"haproxy\", \"hello\"]",
        );
    let dir = lab.config.parent().expect("dir");
    std::fs::write(dir.join("with-hello.toml"), profile).expect("profile");
    let text = std::fs::read_to_string(&lab.config)
        .expect("config")
        .replace("profile = \"haproxy\"", "profile = \"with-hello.toml\"");
    std::fs::write(&lab.config, text).expect("config");

    let out = run(&mut setup(&lab));
    assert!(out.status.success(), "setup failed:\n{}", stderr(&out));
    assert!(stderr(&out).contains("installed hello"), "{}", stderr(&out));
    assert!(installed("hello"), "setup installed the missing package");
    let out = rollback(&lab);
    assert!(out.status.success(), "rollback failed:\n{}", stderr(&out));
    assert!(
        !installed("hello"),
        "rollback removed the package setup installed"
    );
    assert!(
        installed("keepalived") && installed("haproxy"),
        "packages that were there before stay"
    );
}

#[test]
fn with_the_journal_lost_rollback_discover_restores_the_files_by_their_marks() {
    if !ready("rollback --discover on a file tree") {
        return;
    }
    let lab = lab("discover");
    let before = tree(&lab.root);
    let out = run(&mut setup(&lab));
    assert!(out.status.success(), "setup failed:\n{}", stderr(&out));
    std::fs::remove_file(lab.root.join("var/lib/hakit/journal.json")).expect("lose the journal");

    let plain = rollback(&lab);
    assert!(!plain.status.success());
    assert!(stderr(&plain).contains("--discover"), "{}", stderr(&plain));

    let out = run(hakit()
        .args([
            "rollback",
            "--discover",
            "--node",
            "n1",
            "-o",
            "json",
            "--config",
        ])
        .arg(&lab.config));
    assert!(out.status.success(), "discover failed:\n{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let kept = report["left_alone"].as_array().expect("left_alone");
    assert!(
        kept.iter()
            .any(|k| k.as_str().is_some_and(|k| k.contains("packages"))),
        "{report}"
    );
    let after = tree(&lab.root);
    // Every file that was there is back, byte for byte (the hand-made keepalived.conf and
    // haproxy.cfg from their backups)...
    for (path, entry) in before.iter().filter(|(_, (_, h))| h != "dir") {
        assert_eq!(
            after.get(path).map(|(_, h)| h),
            Some(&entry.1),
            "{}",
            path.display()
        );
    }
    // ...hakit's scripts and directories are gone, and only the installed cluster and
    // secrets files (reported as left alone) remain of what setup added.
    let extra: Vec<&PathBuf> = after
        .iter()
        .filter(|(p, (_, h))| h != "dir" && !before.contains_key(*p))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        extra,
        vec![
            &PathBuf::from("etc/hakit/cluster.toml"),
            &PathBuf::from("etc/hakit/secrets.toml")
        ],
        "{}",
        stderr(&out)
    );
    for gone in [
        "var/lib/hakit",
        "usr/local/libexec/hakit",
        "var/log/hakit",
        "run/hakit",
    ] {
        assert!(
            !lab.root.join(gone).exists(),
            "{gone} is left:\n{}",
            stderr(&out)
        );
    }
    // And a fresh setup then works.
    let out = run(&mut setup(&lab));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(rollback(&lab).status.success());
}

#[test]
fn the_real_package_sources_say_what_they_offer() {
    use hakit::host::{Host, RealHost};
    if !require_tool("apt-cache") {
        return;
    }
    // What decides whether setup adds a vendor repository: Debian offers hello (installed or
    // not) and keepalived, and nothing offers a package that does not exist.
    let host = RealHost;
    assert!(host
        .package_available(hakit::host::PackageManager::Apt, "hello")
        .expect("apt-cache"));
    assert!(host
        .package_available(hakit::host::PackageManager::Apt, "keepalived")
        .expect("apt-cache"));
    assert!(!host
        .package_available(hakit::host::PackageManager::Apt, "hakit-no-such-package")
        .expect("apt-cache"));
    assert!(host
        .fetch("http://repo.example.invalid/key")
        .expect_err("plain http is refused")
        .to_string()
        .contains("https only"));
}

/// Removes a test tree outside target/ when the test ends, passed or failed.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A setup made by hakit 0.1.0 (the release before the journal layer, commit ccdf535) is
/// read and rolled back by this one. The fixture is what 0.1.0 left on disk, journal and
/// backups included (tests/fixtures/v0.1.0-l2-haproxy, made by its make.sh); its paths
/// are absolute, so it is laid out where it was made, under /tmp.
#[test]
fn a_setup_made_by_release_0_1_0_is_rolled_back_by_this_one() {
    if !ready("the 0.1.0 journal fixture") {
        return;
    }
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0.1.0-l2-haproxy");
    let base = PathBuf::from("/tmp/hakit-compat-v0.1.0");
    let _ = std::fs::remove_dir_all(&base);
    let _cleanup = RemoveOnDrop(base.clone());
    // What the host had before 0.1.0's setup (make.sh's seeds), in a tree of its own.
    let expected_root = base.join("expected");
    for dir in ["etc", "etc/keepalived", "etc/haproxy"] {
        std::fs::create_dir_all(expected_root.join(dir)).expect("dir");
        std::fs::set_permissions(
            expected_root.join(dir),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }
    let seeds = [
        (
            "etc/keepalived/keepalived.conf",
            "# hand-made, from setup_master.sh\nvrrp_instance VI_1 {\n}\n",
        ),
        ("etc/haproxy/haproxy.cfg", "global\n    daemon\n"),
    ];
    for (path, text) in seeds {
        std::fs::write(expected_root.join(path), text).expect("seed");
        std::fs::set_permissions(
            expected_root.join(path),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
    }
    // What 0.1.0's setup left.
    let root = base.join("root");
    let listed = |name: &str| std::fs::read_to_string(fixture.join(name)).expect(name);
    for dir in listed("dirs.txt").lines() {
        let path = root.join(dir.trim_start_matches("./"));
        std::fs::create_dir_all(&path).expect("dir");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let mut files = 0;
    for line in listed("modes.txt").lines() {
        let (mode, rel) = line.split_once(' ').expect("mode path");
        let rel = rel.trim_start_matches("./");
        let dest = root.join(rel);
        std::fs::copy(fixture.join("tree").join(rel), &dest).expect("copy");
        let mode = u32::from_str_radix(mode, 8).expect("octal");
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).expect("chmod");
        files += 1;
    }
    assert!(
        files >= 8,
        "the fixture holds the journal, backups and written files"
    );
    let config = base.join("cluster.toml");
    std::fs::copy(fixture.join("cluster.toml"), &config).expect("config");

    let out = run(hakit().args(["rollback", "--config"]).arg(&config));
    assert!(
        out.status.success(),
        "rollback of 0.1.0's journal failed:\n{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("restore ") && stderr(&out).contains("remove directory "),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        tree(&root),
        tree(&expected_root),
        "rolling back 0.1.0's setup must give back the host it found"
    );
}

/// A pipe whose reader is already gone: every write to it fails with EPIPE, as when
/// `hakit setup | head` has read its line and exited.
fn closed_pipe() -> std::process::Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer.into()
}

/// `hakit setup | head` must not die half-way because its reader went away: with stdout
/// and stderr both closed, setup completes (the journal says so: a second setup changes
/// nothing) and exits 0, and rollback then restores the tree.
#[test]
fn setup_completes_when_its_output_pipes_are_closed() {
    if !ready("setup with closed output pipes") {
        return;
    }
    let lab = lab("closed-pipes");
    let before = tree(&lab.root);
    let out = setup(&lab)
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .status()
        .expect("setup");
    assert_eq!(
        (out.code(), out.signal()),
        (Some(0), None),
        "setup with closed pipes must finish with exit 0, not a panic (101) or a signal"
    );
    let again = run(&mut setup(&lab));
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("[done]"),
        "the setup that wrote into closed pipes left work undone:\n{}",
        stderr(&again)
    );
    let out = rollback(&lab);
    assert!(out.status.success(), "rollback failed:\n{}", stderr(&out));
    assert_eq!(tree(&lab.root), before);
}

/// `plan`, `status`, `completions` and `man` into a reader that closed early: each ends
/// with the exit code it has with an open stdout (status: 4, degraded, as nothing runs in
/// the lab), never Rust's panic exit 101.
#[test]
fn read_only_commands_survive_a_closed_stdout() {
    if !ready("read-only commands with a closed stdout") {
        return;
    }
    let lab = lab("closed-stdout");
    let config = lab.config.display().to_string();
    let secrets = lab.secrets.display().to_string();
    let plan = [
        "plan",
        "--role",
        "master",
        "--config",
        &config,
        "--secrets",
        &secrets,
    ];
    let mut json = plan.to_vec();
    json.extend(["--output", "json"]);
    let commands: [(&[&str], i32); 5] = [
        (&plan, 0),
        (&json, 0),
        (&["status", "--node", "n1", "--config", &config], 4),
        (&["completions", "bash"], 0),
        (&["man"], 0),
    ];
    for (args, code) in commands {
        let open = run(hakit().args(args));
        assert_eq!(
            open.status.code(),
            Some(code),
            "hakit {args:?}: {}",
            stderr(&open)
        );
        let out = hakit()
            .args(args)
            .stdout(closed_pipe())
            .output()
            .expect("hakit");
        let err = stderr(&out);
        assert!(
            out.status.code() == Some(code) && !err.contains("panicked"),
            "hakit {args:?} with a closed stdout: {:?}\n{err}",
            out.status
        );
    }
}

/// A hook binary that cannot run fails every transition with exit 127 (in aws-eip mode
/// the Elastic IP never moves): setup refuses it before changing anything, naming the key;
/// and when the binary goes away after setup, `status` says the hook is broken (exit 4).
#[test]
fn a_hook_that_cannot_run_is_refused_by_setup_and_reported_by_status() {
    if !ready("the failover hook's binary check") {
        return;
    }
    let lab = lab("hook-binary");
    let before = tree(&lab.root);
    let with_bin = |bin: &Path| {
        let text = std::fs::read_to_string(&lab.config).expect("config");
        let text = text.replace(
            "[paths]\n",
            &format!("[paths]\nhakit_bin = \"{}\"\n", bin.display()),
        );
        std::fs::write(&lab.config, text).expect("config");
    };
    with_bin(Path::new("/nonexistent/bin/hakit"));
    let out = run(&mut setup(&lab));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/bin/hakit") && stderr(&out).contains("paths.hakit_bin"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tree(&lab.root), before, "a refused setup changed the host");

    // A copy of hakit that setup accepts, then removed, as `apt purge` would.
    let copy = lab.root.parent().expect("base").join("opt/bin/hakit");
    std::fs::create_dir_all(copy.parent().expect("dir")).expect("dir");
    std::fs::copy(env!("CARGO_BIN_EXE_hakit"), &copy).expect("copy");
    let text = std::fs::read_to_string(&lab.config).expect("config");
    std::fs::write(
        &lab.config,
        text.replace("/nonexistent/bin/hakit", &copy.display().to_string()),
    )
    .expect("config");
    let out = run(&mut setup(&lab));
    assert!(out.status.success(), "{}", stderr(&out));
    let status = || {
        run(hakit()
            .args(["status", "--node", "n1", "--config"])
            .arg(&lab.config))
    };
    let healthy = status();
    assert!(
        stdout(&healthy).contains(&format!("failover hook: runs {}", copy.display())),
        "{}",
        stdout(&healthy)
    );
    std::fs::remove_file(&copy).expect("remove the copy");
    let broken = status();
    assert_eq!(broken.status.code(), Some(4), "{}", stderr(&broken));
    assert!(
        stdout(&broken).contains("failover hook: BROKEN")
            && stderr(&broken).contains(&copy.display().to_string()),
        "{}{}",
        stdout(&broken),
        stderr(&broken)
    );
    let out = rollback(&lab);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(tree(&lab.root), before);
}

/// A profile file of the user's own, named by a path relative to the cluster file: the copy
/// setup installs in config_dir names it by its absolute path, so `hakit status` and
/// `rollback --discover` on the installed file still find it (before, they exited 2:
/// "cannot read profile file <config_dir>/profiles/mine.toml").
#[test]
fn a_custom_profile_by_relative_path_is_found_from_the_installed_cluster_file() {
    if !ready("setup with a custom profile") {
        return;
    }
    let lab = lab("custom-profile");
    let base = lab.config.parent().expect("base").to_path_buf();
    std::fs::create_dir_all(base.join("profiles")).expect("dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/haproxy.toml");
    std::fs::copy(&shipped, base.join("profiles/mine.toml")).expect("profile");
    let text = std::fs::read_to_string(&lab.config).expect("config");
    std::fs::write(
        &lab.config,
        text.replace("profile = \"haproxy\"", "profile = \"profiles/mine.toml\""),
    )
    .expect("config");
    let before = tree(&lab.root);
    let out = run(&mut setup(&lab));
    assert!(out.status.success(), "{}", stderr(&out));
    let installed = lab.root.join("etc/hakit/cluster.toml");
    let text = std::fs::read_to_string(&installed).expect("installed");
    let absolute = std::fs::canonicalize(base.join("profiles/mine.toml")).expect("canonical");
    assert!(
        text.contains(&format!("profile = \"{}\"", absolute.display())),
        "{text}"
    );
    // The rest of the user's file is as written.
    let original = std::fs::read_to_string(&lab.config).expect("config");
    let differ = original
        .lines()
        .zip(text.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        (differ, original.lines().count()),
        (1, text.lines().count())
    );
    let status = run(hakit()
        .args(["status", "--node", "n1", "--config"])
        .arg(&installed));
    assert_ne!(status.status.code(), Some(2), "{}", stderr(&status));
    assert!(
        stdout(&status).contains("failover hook"),
        "{}",
        stdout(&status)
    );
    // A second setup installs the same bytes: nothing to do.
    let again = run(&mut setup(&lab));
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(!stderr(&again).contains("[done]"), "{}", stderr(&again));
    let out = rollback(&lab);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(tree(&lab.root), before);
}
