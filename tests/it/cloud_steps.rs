//! The AWS steps of setup, rustup-style (apply, apply then undo, apply when already done),
//! with the real EC2 client against moto and the in-memory host; plus a crash between the
//! ENI create and its journal entry, recovered by tag lookup. The Elastic IP must still be
//! allocated after every rollback.

use crate::common::{cluster_toml, parse};
use crate::emulator::{eip_state, prepare, Moto, World, REGION};
use hakit::apply::{apply, ApplyInput, Status};
use hakit::config::Cluster;
use hakit::host::{FakeHost, Host};
use hakit::journal::{NodeJournal, Undo};
use hakit::plan::{Plan, Step};
use hakit::render::eni_persist::EniPersist;
use hakit::role::Role;
use hakit::rollback::rollback;
use hakit_cloud::{Cloud, Ec2Cloud, Limits, NewEni, NodeFacts};
use std::path::Path;
use std::time::Duration;

const STATE: &str = "/var/lib/hakit";

struct Lab {
    _moto: Moto,
    endpoint: String,
    world: World,
    cloud: Ec2Cloud,
    cluster: Cluster,
}

fn lab(name: &str) -> Option<Lab> {
    let moto = Moto::start()?;
    let world = prepare(&moto.endpoint);
    let cloud = Ec2Cloud::connect(
        &hakit_cloud::Endpoint::emulator(&moto.endpoint, REGION),
        Limits {
            poll_interval: Duration::from_millis(20),
            ..Limits::default()
        },
    )
    .expect("client");
    let text = cluster_toml("haproxy", "aws-eip", "")
        .replace("name = \"demo\"", &format!("name = \"{name}\""))
        .replace("eipalloc-0123456789abcdef0", &world.allocation_id);
    let cluster = parse(&text);
    Some(Lab {
        endpoint: moto.endpoint.clone(),
        _moto: moto,
        world,
        cloud,
        cluster,
    })
}

fn facts(world: &World, node: usize) -> NodeFacts {
    NodeFacts {
        instance_id: world.instances[node].clone(),
        region: REGION.into(),
        availability_zone: world.subnets[node].2.clone(),
        mac: "0e:00:00:00:00:01".into(),
        subnet_id: world.subnets[node].0.clone(),
        subnet_cidr: world.subnets[node].1.clone(),
        vpc_id: "vpc-test".into(),
        private_ip: "10.0.1.10".into(),
        security_group_ids: vec![],
    }
}

/// The in-memory host the AWS-step tests use (any MAC shows up as ens6).
pub(crate) fn host() -> FakeHost {
    let host = FakeHost::new();
    for d in ["/etc", "/etc/systemd", "/var", "/var/lib"] {
        host.create_dir(Path::new(d), 0o755).expect("dir");
    }
    host.state
        .borrow_mut()
        .interfaces
        .insert("*".into(), "ens6".into());
    host
}

/// What `rollback --discover` finds for n1 of `cluster` (haproxy profile) once its journal
/// is lost.
pub(crate) fn lose_journal_and_discover(
    h: &FakeHost,
    cluster: &Cluster,
    cloud: &dyn Cloud,
) -> hakit::rollback::discover::Discovery {
    h.remove_file(&hakit::journal::layout::journal(Path::new(STATE)))
        .expect("lose the journal");
    let scope = hakit::rollback::discover::Scope {
        cluster,
        node: "n1",
        proxy_config_dir: Path::new("/etc/haproxy"),
        proxy_service: "haproxy",
        package_source_dirs: &[],
    };
    hakit::rollback::discover::discover(h, Some(cloud), &scope).expect("discover")
}

/// The ConfigureEni step of node n1, kept in form `persist`.
pub(crate) fn configure_eni(persist: EniPersist) -> Step {
    Step::ConfigureEni {
        node: "n1".into(),
        network_stack: "test".into(),
        persist,
        file: "/test".into(),
    }
}

/// A master's aws-eip plan of `steps`.
pub(crate) fn plan(steps: Vec<Step>) -> Plan {
    Plan {
        cluster: "x".into(),
        node: "n1".into(),
        role: Role::Master,
        mode: hakit::config::ModeKind::AwsEip,
        profile: "haproxy".into(),
        package_manager: Some(hakit::host::PackageManager::Apt),
        steps,
        warnings: vec![],
        preflight: vec![],
        backend_sql: vec![],
    }
}

fn steps(lab: &Lab, upto: usize) -> Vec<Step> {
    let all = vec![
        Step::CreateEni {
            node: "n1".into(),
            security_group_ids: vec![],
        },
        Step::AttachEni { node: "n1".into() },
        configure_eni(EniPersist::Networkd),
        Step::AssociateElasticIp {
            allocation_id: lab.world.allocation_id.clone(),
            node: "n1".into(),
        },
    ];
    all.into_iter().take(upto).collect()
}

fn run(lab: &Lab, host: &FakeHost, steps: Vec<Step>) -> Vec<Status> {
    let plan = plan(steps);
    let facts = facts(&lab.world, 0);
    let input = ApplyInput {
        plan: &plan,
        cluster: &lab.cluster,
        cloud: Some(&lab.cloud),
        facts: Some(&facts),
        state_dir: Path::new(STATE),
        no_start: true,
        skip_cloud: false,
        crash_after: None,
        crash_at: None,
        templates: None,
    };
    apply(host, &input, &mut |_: &_| {})
        .expect("apply")
        .into_iter()
        .map(|r| r.status)
        .collect()
}

fn undo(lab: &Lab, host: &FakeHost) {
    let report = rollback(host, Some(&lab.cloud), Path::new(STATE), false).expect("rollback");
    assert!(report.remaining.is_empty(), "{report:?}");
}

fn enis(lab: &Lab) -> usize {
    lab.cloud
        .find_enis(&lab.cluster.name, None)
        .expect("find")
        .len()
}

/// Apply the first `upto` steps three ways; `check` sees the lab after the first apply.
fn three_cases(name: &str, upto: usize, check: impl Fn(&Lab, &FakeHost)) {
    let Some(lab) = lab(name) else { return };
    // x
    let h = host();
    let before = h.snapshot();
    let statuses = run(&lab, &h, steps(&lab, upto));
    assert_eq!(statuses, vec![Status::Applied; upto], "{name}: first apply");
    check(&lab, &h);
    // x_then_rollback
    undo(&lab, &h);
    assert_eq!(enis(&lab), 0, "{name}: no hakit ENI left");
    assert_eq!(h.snapshot(), before, "{name}: host restored");
    assert_eq!(
        eip_state(&lab.endpoint, &lab.world.allocation_id),
        (true, None),
        "{name}: EIP allocated and unassociated"
    );
    // x_that_exists
    let h = host();
    run(&lab, &h, steps(&lab, upto));
    let again = run(&lab, &h, steps(&lab, upto));
    assert_eq!(
        again,
        vec![Status::AlreadyDone; upto],
        "{name}: second apply"
    );
    assert_eq!(enis(&lab), 1, "{name}: still exactly one ENI");
    undo(&lab, &h);
    assert!(
        eip_state(&lab.endpoint, &lab.world.allocation_id).0,
        "{name}: never released"
    );
}

#[test]
fn create_eni() {
    three_cases("create", 1, |lab, _| {
        let found = lab
            .cloud
            .find_enis(&lab.cluster.name, Some("n1"))
            .expect("find");
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].subnet_id.as_deref(),
            Some(lab.world.subnets[0].0.as_str()),
            "in the node's own subnet"
        );
    });
}

#[test]
fn attach_eni() {
    three_cases("attach", 2, |lab, _| {
        let eni = &lab
            .cloud
            .find_enis(&lab.cluster.name, Some("n1"))
            .expect("find")[0];
        let a = eni.attachment.as_ref().expect("attached");
        assert_eq!(
            a.instance_id.as_deref(),
            Some(lab.world.instances[0].as_str())
        );
    });
}

#[test]
fn configure_eni_interface() {
    three_cases("configure", 3, |lab, h| {
        let calls = h.calls.borrow().join("\n");
        let eni = &lab
            .cloud
            .find_enis(&lab.cluster.name, Some("n1"))
            .expect("find")[0];
        let ip = eni.private_ip.clone().expect("ip");
        assert!(
            calls.contains(&format!("ip addr replace {ip}/26 dev ens6")),
            "{calls}"
        );
        assert!(
            calls.contains(&format!("ip rule add from {ip} lookup 1000")),
            "{calls}"
        );
        let unit = h
            .read(Path::new("/etc/systemd/network/70-hakit-configure.network"))
            .expect("read")
            .expect("networkd unit");
        assert!(String::from_utf8_lossy(&unit).contains(&format!("From={ip}")));
    });
}

#[test]
fn associate_eip() {
    three_cases("associate", 4, |lab, _| {
        let eni = &lab
            .cloud
            .find_enis(&lab.cluster.name, Some("n1"))
            .expect("find")[0];
        assert_eq!(
            eip_state(&lab.endpoint, &lab.world.allocation_id)
                .1
                .as_deref(),
            Some(eni.id.as_str())
        );
    });
}

#[test]
fn rollback_leaves_an_eip_another_node_now_holds() {
    let Some(lab) = lab("taken") else { return };
    let h = host();
    run(&lab, &h, steps(&lab, 4));
    let other = lab
        .cloud
        .create_eni(&NewEni {
            cluster: "other".into(),
            node: "n2".into(),
            run: "r".into(),
            subnet_id: lab.world.subnets[1].0.clone(),
            security_group_ids: vec![],
            client_token: "other-n2".into(),
        })
        .expect("other eni");
    lab.cloud
        .attach_eni(&other.id, &lab.world.instances[1])
        .expect("attach");
    lab.cloud
        .associate_eip(&lab.world.allocation_id, &other.id)
        .expect("failover to the other node");
    undo(&lab, &h);
    assert_eq!(
        eip_state(&lab.endpoint, &lab.world.allocation_id),
        (true, Some(other.id.clone())),
        "the other node keeps it"
    );
}

#[test]
fn a_crash_between_create_and_journal_is_undone_by_tag_lookup() {
    let Some(lab) = lab("crash") else { return };
    let h = host();
    // What a crash leaves: the intent (no id yet) in the journal, and the ENI in EC2.
    let mut journal = NodeJournal::open(&h, Path::new(STATE), "crash", "n1").expect("journal");
    h.create_dir(Path::new(STATE), 0o700).expect("state dir");
    journal
        .intend(
            &h,
            Undo::DeleteEni {
                cluster: "crash".into(),
                node: "n1".into(),
                eni_id: None,
            },
        )
        .expect("intent");
    let eni = lab
        .cloud
        .create_eni(&NewEni {
            cluster: "crash".into(),
            node: "n1".into(),
            run: journal.meta.run.clone(),
            subnet_id: lab.world.subnets[0].0.clone(),
            security_group_ids: vec![],
            client_token: "crash-n1".into(),
        })
        .expect("create");
    lab.cloud
        .attach_eni(&eni.id, &lab.world.instances[0])
        .expect("attach");
    undo(&lab, &h);
    assert_eq!(enis(&lab), 0, "found by its tags and deleted");
    // And a fresh setup then succeeds.
    h.remove_dir_if_empty(Path::new(STATE)).expect("rmdir");
    assert_eq!(run(&lab, &h, steps(&lab, 4)), vec![Status::Applied; 4]);
    undo(&lab, &h);
    assert_eq!(
        eip_state(&lab.endpoint, &lab.world.allocation_id),
        (true, None)
    );
}

#[test]
fn a_crash_after_or_inside_every_aws_step_is_rolled_back_and_setup_then_succeeds() {
    let Some(lab) = lab("crash-every") else {
        return;
    };
    for k in 1..=4 {
        for inside in [false, true] {
            let what = format!("crash {} step {k}", if inside { "inside" } else { "after" });
            let h = host();
            let before = h.snapshot();
            run(&lab, &h, steps(&lab, k));
            if inside {
                // SIGKILL between the side effect and its "done": the last entry is an intent.
                let mut journal = NodeJournal::load_in(&h, Path::new(STATE))
                    .expect("load")
                    .expect("journal");
                if let Some(last) = journal.entries.last_mut() {
                    last.state = hakit::journal::EntryState::Intent;
                }
                journal.save(&h).expect("save");
            }
            undo(&lab, &h);
            assert_eq!(enis(&lab), 0, "{what}: no hakit ENI left");
            assert_eq!(h.snapshot(), before, "{what}: host restored");
            assert_eq!(
                eip_state(&lab.endpoint, &lab.world.allocation_id),
                (true, None),
                "{what}: EIP allocated and unassociated"
            );
            // A fresh setup then succeeds.
            assert_eq!(
                run(&lab, &h, steps(&lab, 4)),
                vec![Status::Applied; 4],
                "{what}"
            );
            undo(&lab, &h);
        }
    }
}

#[test]
fn with_the_journal_lost_discover_finds_the_eni_and_its_interface_by_their_marks() {
    let Some(lab) = lab("discover") else {
        return;
    };
    let h = host();
    // As on a real host (systemd ships it): discover cannot know hakit made a directory.
    h.create_dir(Path::new("/etc/systemd/network"), 0o755)
        .expect("networkd dir");
    let before = h.snapshot();
    run(&lab, &h, steps(&lab, 4));
    assert!(
        eip_state(&lab.endpoint, &lab.world.allocation_id)
            .1
            .is_some(),
        "the EIP is on the new ENI"
    );
    // Another node's ENI of the same cluster must survive.
    let other = lab
        .cloud
        .create_eni(&NewEni {
            cluster: lab.cluster.name.clone(),
            node: "n2".into(),
            run: "other".into(),
            subnet_id: lab.world.subnets[1].0.clone(),
            security_group_ids: vec![],
            client_token: "discover-n2".into(),
        })
        .expect("n2's ENI");
    let found = lose_journal_and_discover(&h, &lab.cluster, &lab.cloud);
    assert!(
        found
            .entries
            .iter()
            .any(|u| matches!(u, Undo::DeleteEni { node, eni_id: Some(_), .. } if node == "n1")),
        "{found:?}"
    );
    assert!(
        found.entries.iter().any(
            |u| matches!(u, Undo::UnconfigureInterface { interface, .. } if interface == "ens6")
        ),
        "{found:?}"
    );
    assert!(!found.left_alone.is_empty());
    let report = hakit::rollback::run_entries(&h, Some(&lab.cloud), &found.entries, false);
    assert!(report.remaining.is_empty(), "{report:?}");
    let left: Vec<String> = lab
        .cloud
        .find_enis(&lab.cluster.name, None)
        .expect("find")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, vec![other.id], "only the other node's ENI is left");
    assert_eq!(
        eip_state(&lab.endpoint, &lab.world.allocation_id),
        (true, None),
        "EIP allocated and unassociated"
    );
    assert!(
        h.calls
            .borrow()
            .iter()
            .any(|c| c.starts_with("run ip rule del from")),
        "the policy rule is removed"
    );
    assert_eq!(h.snapshot(), before, "host files and dirs as before");
}
