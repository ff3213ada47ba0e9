//! The `hakit init` wizard answered at a real terminal (tmux), and the --help of every
//! subcommand as reviewed snapshots.

use crate::common::{hakit, require_tool, run, stdout};
use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> std::process::Output {
    Command::new("tmux").args(args).output().expect("tmux")
}

fn screen(session: &str) -> String {
    String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", session]).stdout).into_owned()
}

fn wait_for(session: &str, text: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if screen(session).contains(text) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "the wizard never showed {text:?}; screen:\n{}",
        screen(session)
    );
}

struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.0]);
    }
}

#[test]
fn the_init_wizard_writes_what_was_answered() {
    if !require_tool("tmux") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("wizard.toml");
    let session = Session(format!("hakit-wizard-{}", std::process::id()));
    // The wizard only runs on a terminal and never under CI=true, so unset it inside.
    let command = format!(
        "env -u CI {} init --out {}; sleep 30",
        env!("CARGO_BIN_EXE_hakit"),
        out.display()
    );
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session.0,
        "-x",
        "120",
        "-y",
        "30",
        &command,
    ]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let answer = |prompt: &str, keys: &[&str]| {
        wait_for(&session.0, prompt);
        let mut args = vec!["send-keys", "-t", session.0.as_str()];
        args.extend_from_slice(keys);
        assert!(tmux(&args).status.success());
    };
    answer("Cluster name", &["-l", "wizard-demo"]);
    answer("wizard-demo", &["Enter"]);
    answer("Profile", &["Enter"]); // haproxy, the first
    answer("Mode", &["Down", "Enter"]); // l2-vip
    answer("Virtual IP", &["-l", "192.0.2.100/24"]);
    answer("192.0.2.100/24", &["Enter"]);
    answer("Interface", &["Enter"]); // default eth0
    answer("node n1", &["-l", "192.0.2.11"]);
    answer("192.0.2.11", &["Enter"]);
    answer("node n2", &["-l", "192.0.2.12"]);
    answer("192.0.2.12", &["Enter"]);
    answer("Database behind the proxy", &["-l", "192.0.2.21:3306"]);
    answer("192.0.2.21:3306", &["Enter"]);
    wait_for(&session.0, "wrote");
    let cluster = hakit::config::load(&out).expect("the wizard wrote a valid cluster file");
    assert_eq!(cluster.name, "wizard-demo");
    assert_eq!(cluster.mode.name(), "l2-vip");
    assert_eq!(cluster.profile, "haproxy");
    assert_eq!(
        cluster
            .nodes
            .iter()
            .map(|n| n.address.to_string())
            .collect::<Vec<_>>(),
        vec!["192.0.2.11", "192.0.2.12"]
    );
    assert_eq!(cluster.backends.len(), 1);
    assert!(dir.path().join("wizard.secrets.toml").exists());
}

#[test]
fn help_of_every_subcommand_as_reviewed() {
    for sub in crate::cli::SUBCOMMANDS {
        let out = run(hakit().args([sub, "--help"]).env("COLUMNS", "100"));
        assert!(out.status.success(), "{sub}");
        insta::assert_snapshot!(format!("help-{sub}"), stdout(&out));
    }
}
