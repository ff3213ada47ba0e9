//! The `hakit init` wizard answered at a real terminal (tmux), and the --help of every
//! subcommand as reviewed snapshots.

use crate::common::{hakit, require_tool, run, stdout};
use crate::emulator::{Identity, ImdsServer, REGION};
use crate::setup_rollback::{lab, ready};
use std::process::Command;
use std::time::{Duration, Instant};

/// tmux on a server of the session's own (`-L`), so parallel tests never share one: the
/// last session's end takes its server down, which would race another test's start.
fn tmux(session: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .args(["-L", session])
        .args(args)
        .output()
        .expect("tmux")
}

fn screen(session: &str) -> String {
    String::from_utf8_lossy(
        &tmux(
            session,
            &["capture-pane", "-p", "-S", "-500", "-t", session],
        )
        .stdout,
    )
    .into_owned()
}

fn wait_for(session: &str, text: &str) {
    wait_for_nth(session, text, 1)
}

/// Wait until `text` is on screen (with scrollback) at least `n` times: a prompt asked again.
fn wait_for_nth(session: &str, text: &str, n: usize) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if screen(session).matches(text).count() >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "the wizard never showed {text:?}; screen:\n{}",
        screen(session)
    );
}

/// A command running in its own detached tmux session, killed when dropped.
struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&self.0, &["kill-server"]);
    }
}

impl Session {
    /// Run `command` (a shell line) on a 120x30 terminal, with CI unset: prompts only appear
    /// on a terminal and never under CI=true. The pane stays up for 30 s after it ends.
    fn start(name: &str, command: &str) -> Session {
        let session = Session(format!("hakit-{name}-{}", std::process::id()));
        let line = format!("env -u CI {command}; echo \"exit=$?\"; sleep 30");
        let started = tmux(
            &session.0,
            &[
                "new-session",
                "-d",
                "-s",
                &session.0,
                "-x",
                "120",
                "-y",
                "30",
                &line,
            ],
        );
        assert!(
            started.status.success(),
            "{}",
            String::from_utf8_lossy(&started.stderr)
        );
        session
    }

    /// Wait for `prompt` on screen, then type `keys` (tmux send-keys arguments).
    fn answer(&self, prompt: &str, keys: &[&str]) {
        self.answer_nth(prompt, 1, keys)
    }

    /// Like `answer`, for the `n`th time the same prompt appears.
    fn answer_nth(&self, prompt: &str, n: usize, keys: &[&str]) {
        wait_for_nth(&self.0, prompt, n);
        let mut args = vec!["send-keys", "-t", self.0.as_str()];
        args.extend_from_slice(keys);
        assert!(tmux(&self.0, &args).status.success());
    }

    /// Wait until the command has ended; returns the screen.
    fn finished(&self) -> String {
        wait_for(&self.0, "exit=");
        screen(&self.0)
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_hakit")
}

#[test]
fn the_init_wizard_writes_what_was_answered() {
    if !require_tool("tmux") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("wizard.toml");
    let session = Session::start("wizard", &format!("{} init --out {}", bin(), out.display()));
    let answer = |prompt: &str, keys: &[&str]| session.answer(prompt, keys);
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
    session.answer_nth("Add another backup node?", 1, &["y", "Enter"]);
    answer("node n3", &["-l", "192.0.2.13"]);
    answer("192.0.2.13", &["Enter"]);
    session.answer_nth("Add another backup node?", 2, &["n", "Enter"]);
    answer("Database behind the proxy", &["-l", "192.0.2.21:3306"]);
    answer("192.0.2.21:3306", &["Enter"]);
    answer("Add another database?", &["Enter"]); // default no
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
        vec!["192.0.2.11", "192.0.2.12", "192.0.2.13"]
    );
    assert_eq!(cluster.backends.len(), 1);
    assert!(dir.path().join("wizard.secrets.toml").exists());
}

#[test]
fn on_ec2_the_wizard_offers_the_instance_facts_as_defaults() {
    if !require_tool("tmux") {
        return;
    }
    let imds = ImdsServer::start(Identity {
        instance_id: "i-0wizard".into(),
        mac: "02:00:00:00:00:99".into(),
        az: "us-east-1b".into(),
        subnet_id: "subnet-0wizard".into(),
        subnet_cidr: "192.0.2.64/26".into(),
        vpc_id: "vpc-0wizard".into(),
        private_ip: "192.0.2.77".into(),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("aws.toml");
    let session = Session::start(
        "wizard-aws",
        &format!(
            "env -u AWS_REGION AWS_EC2_METADATA_SERVICE_ENDPOINT={} {} init --out {} --cluster aws-demo --profile haproxy --backend 192.0.2.21:3306",
            imds.endpoint(),
            bin(),
            out.display()
        ),
    );
    session.answer("Mode", &["Enter"]); // aws-eip, the first
    session.answer("Elastic IP allocation id", &["-l", "eipalloc-0abc"]);
    session.answer("eipalloc-0abc", &["Enter"]);
    // Refused on the spot, with the fix, and asked again.
    session.answer("not the public IP", &["-l", "eipalloc-0123456789abcdef0"]);
    session.answer("(eipalloc-...): eipalloc-0123456789abcdef0", &["Enter"]);
    // The instance's region, security groups and address are the defaults: Enter takes them.
    session.answer("AWS region", &["Enter"]);
    session.answer("Security groups", &["Enter"]);
    session.answer("node n1", &["Enter"]);
    session.answer("node n2", &["-l", "192.0.2.78"]);
    session.answer("192.0.2.78", &["Enter"]);
    session.answer("Add another backup node?", &["Enter"]); // default no
    let shown = session.finished();
    assert!(shown.contains("this instance: i-0wizard"), "{shown}");
    let cluster = hakit::config::load(&out)
        .unwrap_or_else(|e| panic!("no valid cluster file ({e:?}); screen:\n{shown}"));
    assert_eq!(cluster.mode.name(), "aws-eip");
    assert_eq!(cluster.nodes[0].address.to_string(), "192.0.2.77");
    assert_eq!(cluster.nodes[1].address.to_string(), "192.0.2.78");
    let text = std::fs::read_to_string(&out).expect("cluster file");
    assert!(text.contains(&format!("region = \"{REGION}\"")), "{text}");
}

#[test]
fn setup_and_rollback_ask_before_replacing_or_undoing_on_a_terminal() {
    if !require_tool("tmux") || !ready("setup and rollback at a terminal") {
        return;
    }
    let lab = lab("terminal");
    let conf = lab.root.join("etc/keepalived/keepalived.conf");
    let hand_made = std::fs::read(&conf).expect("seeded conf");
    let setup = format!(
        "{} setup --role master --no-start --config {} --secrets {}",
        bin(),
        lab.config.display(),
        lab.secrets.display()
    );

    // No: nothing changes, not even the state dir.
    let session = Session::start("setup-no", &setup);
    session.answer("Replace them?", &["n", "Enter"]);
    let shown = session.finished();
    assert!(
        shown.contains("keepalived.conf"),
        "the file is named:\n{shown}"
    );
    assert!(shown.contains("setup cancelled"), "{shown}");
    assert!(
        shown.contains("exit=1"),
        "cancelling exits non-zero:\n{shown}"
    );
    assert_eq!(std::fs::read(&conf).expect("conf"), hand_made);
    assert!(!lab.root.join("var/lib/hakit").exists(), "{shown}");
    drop(session);

    // Yes: setup runs, one line per changed step with its elapsed time.
    let session = Session::start("setup-yes", &setup);
    session.answer("Replace them?", &["y", "Enter"]);
    let shown = session.finished();
    assert!(shown.contains("exit=0"), "{shown}");
    assert!(shown.contains("setup finished"), "{shown}");
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("[done] ") && l.ends_with("s]")),
        "a [done] line with its elapsed time:\n{shown}"
    );
    assert_ne!(std::fs::read(&conf).expect("conf"), hand_made);
    drop(session);

    // Rollback lists what it will undo and asks; no keeps everything.
    let rollback = format!("{} rollback --config {}", bin(), lab.config.display());
    let session = Session::start("rollback-no", &rollback);
    session.answer("Roll back now?", &["n", "Enter"]);
    let shown = session.finished();
    assert!(
        shown.contains(&format!("restore {}", conf.display())),
        "the list names the restore:\n{shown}"
    );
    assert!(shown.contains("rollback cancelled"), "{shown}");
    assert!(
        shown.contains("exit=1"),
        "cancelling exits non-zero:\n{shown}"
    );
    assert_ne!(std::fs::read(&conf).expect("conf"), hand_made);
    drop(session);

    // --yes answers the question: no prompt, everything restored.
    let session = Session::start("rollback-yes", &format!("{rollback} --yes"));
    let shown = session.finished();
    assert!(!shown.contains("Roll back now?"), "{shown}");
    assert!(shown.contains("exit=0"), "{shown}");
    assert_eq!(std::fs::read(&conf).expect("conf"), hand_made);
}

#[test]
fn help_of_every_subcommand_as_reviewed() {
    let nested = [["iam", "policy"], ["iam", "apply"], ["iam", "rollback"]];
    let pages = crate::cli::SUBCOMMANDS
        .iter()
        .map(|sub| vec![*sub])
        .chain(nested.iter().map(|n| n.to_vec()));
    for words in pages {
        let out = run(hakit().args(&words).arg("--help").env("COLUMNS", "100"));
        assert!(out.status.success(), "{words:?}");
        insta::assert_snapshot!(format!("help-{}", words.join("-")), stdout(&out));
    }
}

#[test]
fn a_failed_setup_on_a_terminal_offers_to_roll_back() {
    if !require_tool("tmux") || !ready("a failed setup at a terminal") {
        return;
    }
    let lab = lab("terminal-failed");
    // An interface that does not exist makes keepalived -t fail, after files were written.
    let text = std::fs::read_to_string(&lab.config).expect("config");
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("interface = ") {
                "interface = \"nosuch0\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&lab.config, text).expect("config");
    let conf = lab.root.join("etc/keepalived/keepalived.conf");
    let hand_made = std::fs::read(&conf).expect("seeded conf");
    let session = Session::start(
        "setup-failed",
        &format!(
            "{} setup --role master --no-start --config {} --secrets {}",
            bin(),
            lab.config.display(),
            lab.secrets.display()
        ),
    );
    session.answer("Replace them?", &["y", "Enter"]);
    // The offer defaults to yes: Enter rolls back.
    session.answer("Roll back what it changed", &["Enter"]);
    let shown = session.finished();
    let error = shown.find("failed validation");
    let offer = shown.find("Roll back what it changed");
    assert!(error.is_some() && offer.is_some(), "{shown}");
    assert!(error < offer, "the cause comes before the offer:\n{shown}");
    assert!(shown.contains("rolled back"), "{shown}");
    assert!(shown.contains("exit=1"), "{shown}");
    assert_eq!(std::fs::read(&conf).expect("conf"), hand_made);
    assert!(!lab.root.join("var/lib/hakit").exists(), "{shown}");
}
