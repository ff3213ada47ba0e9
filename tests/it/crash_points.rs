//! A crash inside a step, not only between steps: every step kind is ended at each of its
//! journal events (after an intent is persisted; after a side effect, before its done mark)
//! and, independently of the journal, just before each call that changes the host (the
//! journal's own saves included), and rollback must then restore the host exactly. The
//! test walks every point until a run finishes without reaching it.

use crate::journal_steps::{conf_file, host, run_until, STATE};
use hakit::host::{FakeHost, Host, PackageManager};
use hakit::journal::{CrashMode, CrashPoint, CRASH_MESSAGE};
use hakit::plan::Step;
use hakit::rollback::rollback;
use std::path::Path;

/// Upper bound on journal events in one of these runs (the loop stops far earlier).
const MAX_EVENTS: usize = 100;

fn crash_at(event: usize) -> Option<CrashPoint> {
    Some(CrashPoint {
        event,
        mode: CrashMode::Error,
    })
}

/// For every journal event of `steps` on a host made by `make_host` (and, if `first` is
/// given, after a complete first setup with those steps): crash there, roll back, and
/// compare with the host before any setup. Returns how many crash points were exercised.
fn every_crash_point(
    name: &str,
    make_host: impl Fn() -> FakeHost,
    first: Option<&dyn Fn() -> Vec<Step>>,
    steps: impl Fn() -> Vec<Step>,
) -> usize {
    let mut points = 0;
    for (kind, marker) in [
        (Point::JournalEvent, CRASH_MESSAGE),
        (Point::HostCall, "injected crash"),
    ] {
        for event in 1..=MAX_EVENTS {
            let h = make_host();
            let before = h.snapshot();
            if let Some(first) = first {
                run_until(&h, first(), false, None).expect("first setup");
            }
            let crash = match kind {
                Point::JournalEvent => crash_at(event),
                Point::HostCall => {
                    let done = h.calls.borrow().len();
                    h.crash_at_call.set(Some(done + event));
                    None
                }
            };
            let result = run_until(&h, steps(), false, crash);
            h.crash_at_call.set(None);
            match result {
                Ok(_) => {
                    // The run has fewer points than `event`: every one was covered.
                    assert!(event > 1, "{name}: no {kind:?} at all");
                    points += event - 1;
                    break;
                }
                Err(err) => assert!(
                    format!("{err:#}").contains(marker),
                    "{name}: {kind:?} {event}: failed for another reason: {err:#}"
                ),
            }
            check_rollback(name, &h, &before, &format!("{kind:?} {event}"));
            assert!(
                event < MAX_EVENTS,
                "{name}: more than {MAX_EVENTS} {kind:?}s"
            );
        }
    }
    points
}

#[derive(Debug, Clone, Copy)]
enum Point {
    JournalEvent,
    HostCall,
}

fn check_rollback(name: &str, h: &FakeHost, before: &hakit::host::FakeState, point: &str) {
    let report = match rollback(h, None, Path::new(STATE), false) {
        Ok(report) => report,
        Err(e) if format!("{e:#}").starts_with("no journal") => {
            // Killed before the journal's first save: at most the empty state dir (and
            // its missing parents) was made, which `rollback --discover` removes.
            let mut after = h.snapshot();
            after
                .dirs
                .retain(|d| before.dirs.contains(d) || !Path::new(STATE).starts_with(d));
            assert_eq!(
                &after, before,
                "{name}: crash at {point} before any journal"
            );
            return;
        }
        Err(e) => panic!("{name}: rollback after a crash at {point}: {e:#}"),
    };
    assert!(
        report.remaining.is_empty(),
        "{name}: after a crash at {point}, rollback left {:?}",
        report.remaining
    );
    assert_eq!(
        &h.snapshot(),
        before,
        "{name}: after a crash at {point}, rollback must restore the host"
    );
}

/// A host with a hand-made keepalived.conf.
fn existing_conf() -> FakeHost {
    let h = host();
    h.write_atomic(
        Path::new("/etc/keepalived/keepalived.conf"),
        b"hand-made\n",
        &hakit::host::Ownership::root(0o644),
    )
    .expect("write");
    h
}

#[test]
fn every_step_kind_is_rolled_back_from_a_crash_at_any_journal_event() {
    let none = host;
    let write = |c: &'static str| {
        move || {
            vec![Step::WriteFile {
                file: conf_file(c),
                reloads: Some("keepalived".into()),
            }]
        }
    };
    let cases: Vec<(&str, usize)> = vec![
        (
            "create directory (with a missing parent)",
            every_crash_point("mkdir", none, None, || {
                vec![Step::CreateDirectory {
                    path: "/etc/hakit/conf.d".into(),
                    mode: "0755".into(),
                }]
            }),
        ),
        (
            "create user",
            every_crash_point("useradd", none, None, || {
                vec![Step::CreateUser {
                    name: "keepalived_script".into(),
                }]
            }),
        ),
        (
            "install packages",
            every_crash_point("install", none, None, || {
                vec![Step::InstallPackages {
                    manager: Some(PackageManager::Apt),
                    packages: vec!["keepalived".into()],
                }]
            }),
        ),
        (
            "write a new file",
            every_crash_point("new file", none, None, write("new\n")),
        ),
        (
            "replace a file someone wrote (backup)",
            every_crash_point("replace", existing_conf, None, write("hakit's\n")),
        ),
        (
            "rewrite a file an earlier setup wrote",
            every_crash_point(
                "rewrite",
                existing_conf,
                Some(&write("first\n")),
                write("second\n"),
            ),
        ),
        (
            "install the cluster and secrets files",
            every_crash_point("install files", none, None, || {
                vec![
                    Step::InstallClusterFile {
                        path: "/etc/hakit/cluster.toml".into(),
                        bytes: b"name = \"demo\"\n".to_vec(),
                    },
                    Step::InstallSecrets {
                        path: "/etc/hakit/secrets.toml".into(),
                        bytes: b"vrrp_auth = \"x\"\n".to_vec(),
                    },
                ]
            }),
        ),
        (
            "add the vendor repository, then install from it",
            every_crash_point(
                "vendor repository",
                crate::journal_steps::vendor_repository::debian,
                None,
                || crate::journal_steps::vendor_repository::steps(None),
            ),
        ),
        (
            "enable and restart a service",
            every_crash_point("services", none, None, || {
                vec![
                    Step::EnableService {
                        service: "haproxy".into(),
                    },
                    Step::RestartService {
                        service: "haproxy".into(),
                        configs: vec![],
                        reload: true,
                    },
                ]
            }),
        ),
    ];
    for (name, points) in cases {
        // Each case has at least an intent and a done mark past the state-dir bootstrap.
        assert!(points >= 2, "{name}: only {points} crash points exercised");
    }
}
