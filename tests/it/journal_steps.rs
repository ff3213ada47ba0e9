//! Every kind of step in three cases, rustup-style: apply, apply then undo, apply when
//! already done. Runs against the in-memory host.

use hakit::apply::{apply, ApplyInput, Status};
use hakit::host::{FakeHost, Host, Ownership, PackageManager};
use hakit::journal::CrashPoint;
use hakit::plan::{Plan, Step};
use hakit::render::{FileKind, RenderedFile};
use hakit::role::Role;
use hakit::rollback::rollback;
use std::path::{Path, PathBuf};

pub(crate) const STATE: &str = "/var/lib/hakit";

pub(crate) fn plan(steps: Vec<Step>) -> Plan {
    Plan {
        cluster: "demo".into(),
        node: "n1".into(),
        role: Role::Master,
        mode: hakit::config::ModeKind::L2Vip,
        profile: "haproxy".into(),
        package_manager: Some(hakit::host::PackageManager::Apt),
        steps,
        warnings: vec![],
        preflight: vec![],
        backend_sql: vec![],
    }
}

pub(crate) fn host() -> FakeHost {
    let host = FakeHost::new();
    for d in ["/etc", "/var", "/var/lib", "/etc/keepalived"] {
        host.create_dir(Path::new(d), 0o755).expect("dir");
    }
    host.calls.borrow_mut().clear();
    host
}

pub(crate) fn conf_file(contents: &str) -> RenderedFile {
    RenderedFile {
        path: PathBuf::from("/etc/keepalived/keepalived.conf"),
        kind: FileKind::KeepalivedConf,
        mode: 0o600,
        owner: "root".into(),
        group: "root".into(),
        validate: vec![],
        contents: contents.into(),
    }
}

fn write_step(contents: &str) -> Step {
    Step::WriteFile {
        file: conf_file(contents),
        reloads: Some("keepalived".into()),
    }
}

fn run(host: &FakeHost, steps: Vec<Step>, no_start: bool) -> anyhow::Result<Vec<Status>> {
    run_until(host, steps, no_start, None)
}

/// Apply `steps`, ending the run at journal event `crash_at` if given (as a crash would:
/// nothing after it happens).
pub(crate) fn run_until(
    host: &FakeHost,
    steps: Vec<Step>,
    no_start: bool,
    crash_at: Option<CrashPoint>,
) -> anyhow::Result<Vec<Status>> {
    let plan = plan(steps);
    let cluster = crate::common::parse(&crate::common::cluster_toml("haproxy", "l2-vip", ""));
    let input = ApplyInput {
        plan: &plan,
        cluster: &cluster,
        cloud: None,
        facts: None,
        state_dir: Path::new(STATE),
        no_start,
        skip_cloud: true,
        crash_after: None,
        crash_at,
        templates: None,
    };
    Ok(apply(host, &input, &mut |_: &_| {})?
        .into_iter()
        .map(|r| r.status)
        .collect())
}

/// The three cases for one step: the host before, after apply, after undo, and a second apply.
fn three_cases(
    name: &str,
    setup: impl Fn(&FakeHost),
    steps: impl Fn() -> Vec<Step>,
    changed: impl Fn(&FakeHost) -> bool,
) {
    // x
    let h = host();
    setup(&h);
    let before = h.snapshot();
    assert_eq!(
        run(&h, steps(), false).expect(name),
        vec![Status::Applied],
        "{name}: apply"
    );
    assert!(changed(&h), "{name}: apply changed nothing");
    // x_then_rollback
    let report = rollback(&h, None, Path::new(STATE), false).expect("rollback");
    assert!(
        report.remaining.is_empty(),
        "{name}: {:?}",
        report.remaining
    );
    assert_eq!(
        h.snapshot(),
        before,
        "{name}: rollback must restore the host exactly"
    );
    // x_that_exists: apply twice, the second run changes nothing.
    let h = host();
    setup(&h);
    run(&h, steps(), false).expect(name);
    let after_first = h.snapshot();
    assert_eq!(
        run(&h, steps(), false).expect(name),
        vec![Status::AlreadyDone],
        "{name}: second apply"
    );
    assert_eq!(
        h.snapshot(),
        after_first,
        "{name}: second apply changed the host"
    );
}

#[test]
fn create_directory() {
    three_cases(
        "mkdir",
        |_| {},
        || {
            vec![Step::CreateDirectory {
                path: "/etc/hakit".into(),
                mode: "0755".into(),
            }]
        },
        |h| h.is_dir(Path::new("/etc/hakit")),
    );
}

#[test]
fn create_user() {
    three_cases(
        "useradd",
        |_| {},
        || {
            vec![Step::CreateUser {
                name: "keepalived_script".into(),
            }]
        },
        |h| h.user_exists("keepalived_script").unwrap_or(false),
    );
}

#[test]
fn install_packages_removes_only_what_it_installed() {
    let steps = || {
        vec![Step::InstallPackages {
            manager: Some(PackageManager::Apt),
            packages: vec!["keepalived".into(), "haproxy".into()],
        }]
    };
    three_cases(
        "install",
        |h| {
            h.state.borrow_mut().packages.insert("haproxy".into());
        },
        steps,
        |h| {
            h.package_installed(PackageManager::Apt, "keepalived")
                .unwrap_or(false)
        },
    );
    let h = host();
    h.state.borrow_mut().packages.insert("haproxy".into());
    run(&h, steps(), false).expect("apply");
    rollback(&h, None, Path::new(STATE), false).expect("rollback");
    assert!(
        h.package_installed(PackageManager::Apt, "haproxy")
            .expect("query"),
        "a package that was there before stays"
    );
    assert!(!h
        .package_installed(PackageManager::Apt, "keepalived")
        .expect("query"));
}

#[test]
fn rollback_purges_the_dependencies_and_accounts_an_install_brought_and_nothing_else() {
    let h = host();
    h.state.borrow_mut().packages.insert("libc6".into());
    h.state.borrow_mut().users.insert("root".into());
    h.package_deps
        .borrow_mut()
        .insert("haproxy".into(), vec!["liblua5.3-0".into(), "libc6".into()]);
    h.package_users
        .borrow_mut()
        .insert("haproxy".into(), vec!["haproxy".into()]);
    let before = h.snapshot();
    let steps = vec![Step::InstallPackages {
        manager: Some(PackageManager::Apt),
        packages: vec!["haproxy".into()],
    }];
    run(&h, steps, false).expect("install");
    assert!(h
        .package_installed(PackageManager::Apt, "liblua5.3-0")
        .expect("q"));
    assert!(h.snapshot().users.contains("haproxy"));
    let report = rollback(&h, None, Path::new(STATE), false).expect("rollback");
    assert!(report.remaining.is_empty(), "{report:?}");
    assert_eq!(
        h.snapshot(),
        before,
        "the dependency, the user and its group go; libc6, there before, stays"
    );
}

#[test]
fn rollback_removes_what_a_daemon_wrote_at_run_time_where_nothing_was_before() {
    let h = host();
    let before = h.snapshot();
    let steps = vec![Step::InstallPackages {
        manager: Some(PackageManager::Apt),
        packages: vec!["keepalived".into()],
    }];
    run(&h, steps, false).expect("install");
    // keepalived 2.3 registers its address protocol for iproute2 when it starts.
    for d in ["/etc/iproute2", "/etc/iproute2/rt_addrprotos.d"] {
        h.create_dir(Path::new(d), 0o755).expect("dir");
    }
    h.write_atomic(
        Path::new("/etc/iproute2/rt_addrprotos.d/keepalived.conf"),
        b"18 keepalived\n",
        &Ownership::root(0o644),
    )
    .expect("write");
    let report = rollback(&h, None, Path::new(STATE), false).expect("rollback");
    assert!(report.remaining.is_empty(), "{report:?}");
    assert_eq!(h.snapshot(), before);
}

#[test]
fn write_new_file() {
    three_cases(
        "write",
        |_| {},
        || vec![write_step("new\n")],
        |h| {
            h.read(Path::new("/etc/keepalived/keepalived.conf"))
                .ok()
                .flatten()
                .is_some()
        },
    );
}

#[test]
fn replace_existing_file_restores_it_byte_for_byte() {
    let original = Ownership {
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
    };
    three_cases(
        "replace",
        |h| {
            h.write_atomic(
                Path::new("/etc/keepalived/keepalived.conf"),
                b"hand-made\n",
                &original,
            )
            .expect("seed")
        },
        || vec![write_step("hakit's\n")],
        |h| {
            h.read(Path::new("/etc/keepalived/keepalived.conf"))
                .ok()
                .flatten()
                .as_deref()
                == Some(b"hakit's\n".as_slice())
        },
    );
}

#[test]
fn a_file_changed_after_setup_is_kept_without_force() {
    let h = host();
    let path = Path::new("/etc/keepalived/keepalived.conf");
    let owner = Ownership {
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
    };
    h.write_atomic(path, b"hand-made\n", &owner).expect("seed");
    run(&h, vec![write_step("hakit's\n")], false).expect("apply");
    h.write_atomic(path, b"edited at 3am\n", &owner)
        .expect("edit");
    let report = rollback(&h, None, Path::new(STATE), false).expect("rollback runs");
    assert!(
        report
            .remaining
            .iter()
            .any(|r| r.contains("--force") && r.contains("backups")),
        "{report:?}"
    );
    assert_eq!(
        h.read(path).expect("read").as_deref(),
        Some(b"edited at 3am\n".as_slice())
    );
    let forced = rollback(&h, None, Path::new(STATE), true).expect("forced");
    assert!(forced.remaining.is_empty(), "{forced:?}");
    assert_eq!(
        h.read(path).expect("read").as_deref(),
        Some(b"hand-made\n".as_slice())
    );
}

#[test]
fn enable_service() {
    three_cases(
        "enable",
        |_| {},
        || {
            vec![Step::EnableService {
                service: "keepalived".into(),
            }]
        },
        |h| h.service_enabled("keepalived").unwrap_or(false),
    );
}

#[test]
fn services_are_not_touched_with_no_start_and_need_systemd_otherwise() {
    let h = host();
    let steps = vec![
        Step::EnableService {
            service: "keepalived".into(),
        },
        Step::RestartService {
            service: "keepalived".into(),
            configs: vec![],
            reload: true,
        },
    ];
    assert_eq!(
        run(&h, steps.clone(), true).expect("no-start"),
        vec![Status::Skipped, Status::Skipped]
    );
    let mut h = host();
    h.systemd = false;
    let err = run(&h, steps, false).unwrap_err();
    assert!(format!("{err:#}").contains("--no-start"), "{err:#}");
}

#[test]
fn restart_is_undone_by_stopping_a_service_that_was_not_running() {
    let h = host();
    run(
        &h,
        vec![Step::RestartService {
            service: "haproxy".into(),
            configs: vec![],
            reload: true,
        }],
        false,
    )
    .expect("apply");
    assert!(h.service_active("haproxy").expect("state"));
    rollback(&h, None, Path::new(STATE), false).expect("rollback");
    assert!(!h.service_active("haproxy").expect("state"));
}

/// A host where keepalived runs with a hand-made config.
fn running_keepalived() -> FakeHost {
    let h = host();
    h.write_atomic(
        Path::new("/etc/keepalived/keepalived.conf"),
        b"hand-made\n",
        &Ownership::root(0o644),
    )
    .expect("seed");
    h.state.borrow_mut().running.insert("keepalived".into());
    h.calls.borrow_mut().clear();
    h
}

fn keepalived_steps(conf: &str) -> Vec<Step> {
    vec![
        write_step(conf),
        Step::RestartService {
            service: "keepalived".into(),
            configs: vec![PathBuf::from("/etc/keepalived/keepalived.conf")],
            reload: true,
        },
    ]
}

fn service_calls(h: &FakeHost) -> Vec<String> {
    h.calls
        .borrow()
        .iter()
        .filter(|c| c.starts_with("systemctl-"))
        .cloned()
        .collect()
}

#[test]
fn a_running_service_is_reloaded_when_its_config_changed_and_left_alone_when_not() {
    let h = running_keepalived();
    assert_eq!(
        run(&h, keepalived_steps("hakit's\n"), false).expect("setup"),
        vec![Status::Applied, Status::Applied]
    );
    assert_eq!(service_calls(&h), vec!["systemctl-reload keepalived"]);
    h.calls.borrow_mut().clear();
    // The same again: nothing changed, so nothing is restarted or reloaded (no failover).
    assert_eq!(
        run(&h, keepalived_steps("hakit's\n"), false).expect("re-run"),
        vec![Status::AlreadyDone, Status::AlreadyDone]
    );
    assert_eq!(service_calls(&h), Vec::<String>::new());
    // A changed config: reloaded, not restarted.
    assert_eq!(
        run(&h, keepalived_steps("hakit's, changed\n"), false).expect("change"),
        vec![Status::Applied, Status::Applied]
    );
    assert_eq!(service_calls(&h), vec!["systemctl-reload keepalived"]);
    // A stopped service is started whatever changed.
    h.state.borrow_mut().running.clear();
    h.calls.borrow_mut().clear();
    run(&h, keepalived_steps("hakit's, changed\n"), false).expect("start");
    assert_eq!(service_calls(&h), vec!["systemctl-restart keepalived"]);
}

#[test]
fn a_reload_interrupted_by_a_crash_is_done_by_the_next_setup() {
    let h = running_keepalived();
    // The process dies before keepalived loaded the new config (reload and the restart it
    // falls back to both fail, as a crash would leave it).
    h.fail.borrow_mut().insert("systemctl-reload".into());
    h.fail.borrow_mut().insert("systemctl-restart".into());
    assert!(run(&h, keepalived_steps("hakit's\n"), false).is_err());
    h.fail.borrow_mut().clear();
    h.calls.borrow_mut().clear();
    // The file is already written, but keepalived never loaded it: the re-run reloads.
    assert_eq!(
        run(&h, keepalived_steps("hakit's\n"), false).expect("re-run"),
        vec![Status::AlreadyDone, Status::Applied]
    );
    assert_eq!(service_calls(&h), vec!["systemctl-reload keepalived"]);
}

#[test]
fn rollback_puts_the_config_back_before_restarting_the_service() {
    let h = running_keepalived();
    run(&h, keepalived_steps("hakit's\n"), false).expect("setup");
    h.calls.borrow_mut().clear();
    let report = rollback(&h, None, Path::new(STATE), false).expect("rollback");
    assert!(report.remaining.is_empty(), "{report:?}");
    let calls = h.calls.borrow().clone();
    let restored = calls
        .iter()
        .position(|c| c == "write /etc/keepalived/keepalived.conf");
    let restarted = calls
        .iter()
        .position(|c| c == "systemctl-restart keepalived");
    assert!(
        restored.is_some() && restarted.is_some() && restored < restarted,
        "the hand-made config must be back before keepalived restarts: {calls:?}"
    );
    assert_eq!(
        h.read(Path::new("/etc/keepalived/keepalived.conf"))
            .expect("read")
            .as_deref(),
        Some(&b"hand-made\n"[..])
    );
}

#[test]
fn a_reload_that_cannot_run_falls_back_to_a_restart() {
    let h = running_keepalived();
    h.fail.borrow_mut().insert("systemctl-reload".into());
    run(&h, keepalived_steps("hakit's\n"), false).expect("setup");
    let calls = service_calls(&h);
    assert_eq!(
        calls.last().map(String::as_str),
        Some("systemctl-restart keepalived"),
        "{calls:?}"
    );
}

#[test]
fn undoing_a_service_whose_unit_is_gone_counts_as_done() {
    let h = host();
    let steps = vec![
        Step::EnableService {
            service: "haproxy".into(),
        },
        Step::RestartService {
            service: "haproxy".into(),
            configs: vec![],
            reload: true,
        },
    ];
    run(&h, steps, false).expect("setup");
    // Its package went away (by hand, or an earlier rollback step): no unit any more.
    h.missing_units.borrow_mut().insert("haproxy".into());
    let report = rollback(&h, None, Path::new(STATE), false).expect("rollback");
    assert!(report.remaining.is_empty(), "{report:?}");
    assert!(h
        .read(Path::new(STATE).join("journal.json").as_path())
        .expect("read")
        .is_none());
}

#[test]
fn a_failed_step_keeps_the_journal_for_rollback_and_undo_goes_past_failures() {
    let h = host();
    let before = h.snapshot();
    h.fail.borrow_mut().insert("install".into());
    let steps = vec![
        Step::CreateDirectory {
            path: "/etc/hakit".into(),
            mode: "0755".into(),
        },
        Step::CreateUser {
            name: "keepalived_script".into(),
        },
        Step::InstallPackages {
            manager: Some(PackageManager::Apt),
            packages: vec!["keepalived".into()],
        },
    ];
    assert!(run(&h, steps, false).is_err());
    h.fail.borrow_mut().clear();
    h.fail.borrow_mut().insert("userdel".into());
    let report = rollback(&h, None, Path::new(STATE), false).expect("rollback");
    assert!(
        report.remaining.iter().any(|r| r.contains("userdel")),
        "{report:?}"
    );
    assert!(
        report.undone.iter().any(|u| u.contains("/etc/hakit")),
        "went on past the failed undo: {report:?}"
    );
    h.fail.borrow_mut().clear();
    let again = rollback(&h, None, Path::new(STATE), false).expect("second rollback");
    assert!(again.remaining.is_empty(), "{again:?}");
    assert_eq!(h.snapshot(), before);
}

#[test]
fn a_config_that_fails_validation_is_replaced_by_the_previous_one_at_once() {
    let h = host();
    let path = Path::new("/etc/keepalived/keepalived.conf");
    let owner = Ownership {
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
    };
    h.write_atomic(path, b"working config\n", &owner)
        .expect("seed");
    h.fail.borrow_mut().insert("validate".into());
    let steps = vec![
        write_step("broken\n"),
        Step::ValidateFile {
            path: path.to_path_buf(),
            command: vec!["keepalived".into(), "-t".into()],
        },
    ];
    let err = run(&h, steps, true).unwrap_err();
    assert!(
        format!("{err:#}").contains("previous version was put back"),
        "{err:#}"
    );
    assert_eq!(
        h.read(path).expect("read").as_deref(),
        Some(b"working config\n".as_slice())
    );
}

pub(crate) mod vendor_repository {
    use super::{host, run, STATE};
    use hakit::apply::Status;
    use hakit::host::{FakeHost, Host, PackageManager};
    use hakit::plan::Step;
    use hakit::rollback::rollback;
    use hakit::vendor_repo::{self, RepoFile, RepoSource, MARKER};
    use std::path::{Path, PathBuf};

    const LIST: &str = "/etc/apt/sources.list.d/proxysql.list";
    const KEY: &str = "/etc/apt/keyrings/proxysql.asc";

    fn files() -> Vec<RepoFile> {
        let profile = crate::common::shipped_profile("proxysql");
        let repo = profile.vendor_repo.expect("proxysql ships a vendor_repo");
        vendor_repo::files(&repo, Some(PackageManager::Apt), Some("bookworm")).expect("apt files")
    }

    fn key_url() -> String {
        files()
            .iter()
            .find_map(|f| match &f.source {
                RepoSource::Download(url) => Some(url.clone()),
                RepoSource::Contents(_) => None,
            })
            .expect("the key is downloaded")
    }

    fn packages() -> Vec<String> {
        vec!["keepalived".into(), "proxysql".into()]
    }

    pub(crate) fn steps(problem: Option<&str>) -> Vec<Step> {
        vec![
            Step::AddVendorRepository {
                name: "proxysql".into(),
                manager: Some(PackageManager::Apt),
                files: if problem.is_some() { vec![] } else { files() },
                problem: problem.map(String::from),
                packages: packages(),
            },
            Step::InstallPackages {
                manager: Some(PackageManager::Apt),
                packages: packages(),
            },
        ]
    }

    /// A Debian host: apt's sources dir exists, keepalived is installed, and proxysql is
    /// offered only once the vendor's list file is there.
    pub(crate) fn debian() -> FakeHost {
        let h = host();
        for d in ["/etc/apt", "/etc/apt/sources.list.d"] {
            h.create_dir(Path::new(d), 0o755).expect("dir");
        }
        h.state.borrow_mut().packages.insert("keepalived".into());
        h.repo_offers
            .borrow_mut()
            .insert(PathBuf::from(LIST), vec!["proxysql".into()]);
        h.downloads.borrow_mut().insert(
            key_url(),
            b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n".to_vec(),
        );
        h.calls.borrow_mut().clear();
        h
    }

    #[test]
    fn added_when_no_source_offers_the_package_and_removed_by_rollback() {
        let h = debian();
        let before = h.snapshot();
        let statuses = run(&h, steps(None), false).expect("apply");
        assert_eq!(statuses, vec![Status::Applied, Status::Applied]);
        let key = h.read(Path::new(KEY)).expect("read").expect("key written");
        assert!(key.starts_with(b"-----BEGIN PGP"));
        let list = h
            .read(Path::new(LIST))
            .expect("read")
            .expect("list written");
        let list = String::from_utf8(list).expect("utf8");
        assert!(
            list.starts_with(MARKER) && list.contains("/bookworm/"),
            "{list}"
        );
        let calls = h.calls.borrow().clone();
        let refresh = calls.iter().position(|c| c == "refresh apt");
        let install = calls.iter().position(|c| c == "install proxysql");
        assert!(
            refresh.is_some() && refresh < install,
            "the sources are re-read before installing: {calls:?}"
        );

        // Again: nothing to do, nothing fetched.
        let after = h.snapshot();
        h.calls.borrow_mut().clear();
        let statuses = run(&h, steps(None), false).expect("apply again");
        assert_eq!(statuses, vec![Status::AlreadyDone, Status::AlreadyDone]);
        assert_eq!(h.snapshot(), after);
        assert!(!h.calls.borrow().iter().any(|c| c.starts_with("fetch")));

        // Rollback removes the package first, then the repository files and the key dir.
        let report = rollback(&h, None, Path::new(STATE), false).expect("rollback");
        assert!(report.remaining.is_empty(), "{:?}", report.remaining);
        assert_eq!(
            h.snapshot(),
            before,
            "rollback must restore the host exactly"
        );
    }

    #[test]
    fn not_added_when_the_distro_offers_the_package() {
        let h = debian();
        h.distro_offers.borrow_mut().insert("proxysql".into());
        let statuses = run(&h, steps(None), false).expect("apply");
        assert_eq!(statuses, vec![Status::AlreadyDone, Status::Applied]);
        assert!(h.read(Path::new(LIST)).expect("read").is_none());
        assert!(!h.calls.borrow().iter().any(|c| c.starts_with("fetch")));
    }

    #[test]
    fn a_key_that_cannot_be_downloaded_stops_setup_with_the_url_and_rolls_back_clean() {
        let h = debian();
        h.downloads.borrow_mut().clear();
        let before = h.snapshot();
        let err = run(&h, steps(None), false).expect_err("no key");
        let text = format!("{err:#}");
        assert!(text.contains(&key_url()), "{text}");
        assert!(text.contains("step 1"), "{text}");
        assert!(!h.state.borrow().packages.contains("proxysql"));
        let report = rollback(&h, None, Path::new(STATE), false).expect("rollback");
        assert!(report.remaining.is_empty(), "{:?}", report.remaining);
        assert_eq!(h.snapshot(), before);
    }

    #[test]
    fn a_repository_that_cannot_be_described_here_is_an_error_only_when_needed() {
        let h = debian();
        let err = run(&h, steps(Some("no VERSION_CODENAME")), false).expect_err("needed");
        assert!(format!("{err:#}").contains("VERSION_CODENAME"), "{err:#}");
        let h = debian();
        h.state.borrow_mut().packages.insert("proxysql".into());
        let statuses = run(&h, steps(Some("no VERSION_CODENAME")), false).expect("not needed");
        assert_eq!(statuses, vec![Status::AlreadyDone, Status::AlreadyDone]);
    }
}

#[test]
fn a_directory_someone_else_filled_stays_and_the_report_names_what_is_in_it() {
    let h = host();
    let steps = || {
        vec![Step::CreateDirectory {
            path: "/etc/hakit".into(),
            mode: "0755".into(),
        }]
    };
    run(&h, steps(), false).expect("apply");
    h.write_atomic(
        Path::new("/etc/hakit/notes.txt"),
        b"mine",
        &Ownership::root(0o644),
    )
    .expect("someone's file");
    let report = rollback(&h, None, Path::new(STATE), false).expect("rollback");
    assert!(
        report
            .remaining
            .iter()
            .any(|r| r.contains("/etc/hakit is not empty: notes.txt")),
        "{report:?}"
    );
    assert!(h.is_dir(Path::new("/etc/hakit")));
    assert_eq!(
        h.read(Path::new("/etc/hakit/notes.txt")).expect("read"),
        Some(b"mine".to_vec())
    );
}
