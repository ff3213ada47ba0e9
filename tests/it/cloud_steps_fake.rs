//! The AWS steps of setup, rustup-style (apply, apply then undo, apply when already done),
//! as in cloud_steps.rs but against the in-memory `FakeCloud`: no moto, no root. Plus a
//! crash between the ENI create and its journal entry, recovered by tag lookup, and what
//! only the fake can show: how many EC2 requests a step makes, and throttling. The Elastic
//! IP must still be allocated after every rollback.

use crate::cloud_steps::{configure_eni, host, lose_journal_and_discover, plan};
use crate::common::{cluster_toml, parse};
use hakit::apply::{apply, ApplyInput, Status};
use hakit::config::Cluster;
use hakit::host::{FakeHost, Host};
use hakit::journal::{CrashMode, CrashPoint, NodeJournal, Undo, CRASH_MESSAGE};
use hakit::plan::Step;
use hakit::render::eni_persist::EniPersist;
use hakit::rollback::rollback;
use hakit_cloud::{Action, Cloud, FakeCloud, NewEni, NodeFacts};
use std::path::Path;

const STATE: &str = "/var/lib/hakit";
const REGION: &str = "us-east-1";
/// The allocation id `cluster_toml` writes.
const ALLOCATION: &str = "eipalloc-0123456789abcdef0";
/// One subnet per node, in TEST-NET-1, as in the moto lab: (id, CIDR, AZ).
const SUBNETS: [(&str, &str, &str); 2] = [
    ("subnet-0000000000000000a", "192.0.2.64/26", "us-east-1a"),
    ("subnet-0000000000000000b", "192.0.2.128/26", "us-east-1b"),
];
const INSTANCES: [&str; 2] = ["i-0000000000000000a", "i-0000000000000000b"];

/// The EC2 actions that change something.
const MUTATING: [Action; 8] = [
    Action::CreateNetworkInterface,
    Action::AttachNetworkInterface,
    Action::ModifyNetworkInterfaceAttribute,
    Action::CreateTags,
    Action::AssociateAddress,
    Action::DisassociateAddress,
    Action::DetachNetworkInterface,
    Action::DeleteNetworkInterface,
];

struct Lab {
    cloud: FakeCloud,
    cluster: Cluster,
}

fn lab(name: &str) -> Lab {
    let cloud = FakeCloud::new();
    for (id, cidr, _) in SUBNETS {
        cloud.add_subnet(id, cidr).expect("subnet");
    }
    for id in INSTANCES {
        cloud.add_instance(id);
    }
    // TEST-NET-3; allocated by the test: hakit never allocates one.
    cloud.add_address(ALLOCATION, "203.0.113.10");
    let text = cluster_toml("haproxy", "aws-eip", "")
        .replace("name = \"demo\"", &format!("name = \"{name}\""));
    Lab {
        cloud,
        cluster: parse(&text),
    }
}

fn facts(node: usize) -> NodeFacts {
    NodeFacts {
        instance_id: INSTANCES[node].into(),
        region: REGION.into(),
        availability_zone: SUBNETS[node].2.into(),
        mac: "0e:00:00:00:00:01".into(),
        subnet_id: SUBNETS[node].0.into(),
        subnet_cidr: SUBNETS[node].1.into(),
        vpc_id: "vpc-test".into(),
        private_ip: "10.0.1.10".into(),
        security_group_ids: vec![],
    }
}

fn steps(upto: usize) -> Vec<Step> {
    let all = vec![
        Step::CreateEni {
            node: "n1".into(),
            security_group_ids: vec![],
        },
        Step::AttachEni { node: "n1".into() },
        configure_eni(EniPersist::Networkd),
        Step::AssociateElasticIp {
            allocation_id: ALLOCATION.into(),
            node: "n1".into(),
        },
    ];
    all.into_iter().take(upto).collect()
}

fn try_run(lab: &Lab, host: &FakeHost, steps: Vec<Step>) -> anyhow::Result<Vec<Status>> {
    run_until(lab, host, steps, None)
}

fn run_until(
    lab: &Lab,
    host: &FakeHost,
    steps: Vec<Step>,
    crash_at: Option<CrashPoint>,
) -> anyhow::Result<Vec<Status>> {
    let plan = plan(steps);
    let facts = facts(0);
    let input = ApplyInput {
        plan: &plan,
        cluster: &lab.cluster,
        cloud: Some(&lab.cloud),
        facts: Some(&facts),
        state_dir: Path::new(STATE),
        no_start: true,
        skip_cloud: false,
        crash_after: None,
        crash_at,
        templates: None,
    };
    Ok(apply(host, &input, &mut |_: &_| {})?
        .into_iter()
        .map(|r| r.status)
        .collect())
}

fn run(lab: &Lab, host: &FakeHost, steps: Vec<Step>) -> Vec<Status> {
    try_run(lab, host, steps).expect("apply")
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

/// Whether the Elastic IP is still allocated, and the ENI it is associated with.
fn eip_state(lab: &Lab) -> (bool, Option<String>) {
    match lab.cloud.address_of(ALLOCATION) {
        Some(a) => (true, a.network_interface_id),
        None => (false, None),
    }
}

fn mutating_calls(lab: &Lab) -> usize {
    MUTATING.iter().map(|a| lab.cloud.count(*a)).sum()
}

fn own_eni(lab: &Lab) -> hakit_cloud::Eni {
    let mut found = lab
        .cloud
        .find_enis(&lab.cluster.name, Some("n1"))
        .expect("find");
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

/// Apply the first `upto` steps three ways; `check` sees the lab after the first apply.
fn three_cases(name: &str, upto: usize, check: impl Fn(&Lab, &FakeHost)) {
    let lab = lab(name);
    // x
    let h = host();
    let before = h.snapshot();
    let statuses = run(&lab, &h, steps(upto));
    assert_eq!(statuses, vec![Status::Applied; upto], "{name}: first apply");
    check(&lab, &h);
    // x_then_rollback
    undo(&lab, &h);
    assert_eq!(enis(&lab), 0, "{name}: no hakit ENI left");
    assert!(lab.cloud.enis().is_empty(), "{name}: no ENI at all left");
    assert_eq!(h.snapshot(), before, "{name}: host restored");
    assert_eq!(
        eip_state(&lab),
        (true, None),
        "{name}: EIP allocated and unassociated"
    );
    // x_that_exists
    let h = host();
    run(&lab, &h, steps(upto));
    lab.cloud.clear_calls();
    let again = run(&lab, &h, steps(upto));
    assert_eq!(
        again,
        vec![Status::AlreadyDone; upto],
        "{name}: second apply"
    );
    assert_eq!(
        mutating_calls(&lab),
        0,
        "{name}: already done changes nothing in EC2: {:#?}",
        lab.cloud.calls()
    );
    assert_eq!(enis(&lab), 1, "{name}: still exactly one ENI");
    undo(&lab, &h);
    assert_eq!(enis(&lab), 0, "{name}: no hakit ENI left");
    assert!(eip_state(&lab).0, "{name}: never released");
}

#[test]
fn create_eni() {
    three_cases("create", 1, |lab, _| {
        let eni = own_eni(lab);
        assert_eq!(
            eni.subnet_id.as_deref(),
            Some(SUBNETS[0].0),
            "in the node's own subnet"
        );
        assert_eq!(eni.attachment, None);
        let tags = lab.cloud.tags_of(&eni.id).expect("tags");
        assert_eq!(
            tags.get(hakit_cloud::TAG_CLUSTER).map(String::as_str),
            Some("create")
        );
    });
}

#[test]
fn attach_eni() {
    three_cases("attach", 2, |lab, _| {
        let eni = own_eni(lab);
        let a = eni.attachment.as_ref().expect("attached");
        assert_eq!(a.instance_id.as_deref(), Some(INSTANCES[0]));
        assert_eq!(a.device_index, Some(1), "the first index after the primary");
        assert_eq!(
            lab.cloud.source_dest_check_of(&eni.id),
            Some(true),
            "aws.source_dest_check defaults to on: left alone"
        );
    });
}

#[test]
fn configure_eni_interface() {
    three_cases("configure", 3, |lab, h| {
        let calls = h.calls.borrow().join("\n");
        let ip = own_eni(lab).private_ip.expect("ip");
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

/// Where NetworkManager, ifupdown or amazon-ec2-net-utils owns the interfaces, the ENI's
/// configuration goes where that manager reads it, the manager is told, a re-run changes
/// nothing, and rollback has the manager forget it and leaves the host as it was.
#[test]
fn configure_eni_for_each_network_manager() {
    let cases = [
        (
            EniPersist::NetworkManager,
            "NetworkManager",
            "/etc/NetworkManager/system-connections/hakit-nm.nmconnection",
            0o600,
            "nmcli connection up id hakit-nm",
            "nmcli connection reload",
        ),
        (
            EniPersist::Ifupdown,
            "networking",
            "/etc/network/interfaces.d/hakit-ifupdown",
            0o644,
            "ifup --force ens6",
            "ifdown --force ens6",
        ),
        (
            EniPersist::Ec2NetUtils,
            "systemd-networkd",
            "/etc/systemd/network/70-ens6.network.d/hakit-ec2.conf",
            0o644,
            "networkctl reload",
            "networkctl reload",
        ),
    ];
    for (persist, service, path, mode, applied_by, undone_by) in cases {
        let name = path
            .rsplit("hakit-")
            .next()
            .and_then(|n| n.split('.').next())
            .expect("cluster name");
        let lab = lab(name);
        let h = host();
        h.state.borrow_mut().running.insert(service.into());
        h.create_dir(Path::new("/etc/network"), 0o755).expect("dir");
        h.write_atomic(
            Path::new("/etc/network/interfaces"),
            b"auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n",
            &hakit::host::Ownership::root(0o644),
        )
        .expect("interfaces");
        let before = h.snapshot();
        let steps = || {
            let mut s = steps(2);
            s.push(configure_eni(persist));
            s
        };
        assert_eq!(
            run(&lab, &h, steps()),
            vec![Status::Applied; 3],
            "{persist:?}"
        );
        let ip = own_eni(&lab).private_ip.expect("ip");
        let text =
            String::from_utf8_lossy(&h.read(Path::new(path)).expect("read").expect("the file"))
                .into_owned();
        assert!(text.contains(&ip), "{persist:?}: {text}");
        assert_eq!(
            h.ownership(Path::new(path)).expect("stat").map(|o| o.mode),
            Some(mode),
            "{persist:?}"
        );
        let calls = h.calls.borrow().join("\n");
        assert!(calls.contains(applied_by), "{persist:?}: {calls}");

        h.calls.borrow_mut().clear();
        assert_eq!(
            run(&lab, &h, steps()),
            vec![Status::AlreadyDone; 3],
            "{persist:?}: re-run"
        );
        let calls = h.calls.borrow().join("\n");
        assert!(!calls.contains(applied_by), "{persist:?} re-run: {calls}");

        h.calls.borrow_mut().clear();
        undo(&lab, &h);
        let calls = h.calls.borrow().join("\n");
        assert!(calls.contains(undone_by), "{persist:?} rollback: {calls}");
        assert_eq!(h.snapshot(), before, "{persist:?}: host restored");
        assert_eq!(enis(&lab), 0, "{persist:?}: no hakit ENI left");
    }
}

/// An ifupdown host whose main file does not read the stanza directory: setup stops at
/// the ENI's configuration saying what to add, and rollback leaves nothing.
#[test]
fn an_ifupdown_host_that_would_not_read_the_stanza_stops_setup_with_the_fix() {
    let lab = lab("unsourced");
    let h = host();
    h.create_dir(Path::new("/etc/network"), 0o755).expect("dir");
    h.write_atomic(
        Path::new("/etc/network/interfaces"),
        b"auto eth0\niface eth0 inet dhcp\n",
        &hakit::host::Ownership::root(0o644),
    )
    .expect("interfaces");
    let before = h.snapshot();
    let mut s = steps(2);
    s.push(configure_eni(EniPersist::Ifupdown));
    let err = try_run(&lab, &h, s).expect_err("setup stops");
    let said = format!("{err:#}");
    assert!(
        said.contains("/etc/network/interfaces does not read /etc/network/interfaces.d")
            && said.contains("source /etc/network/interfaces.d/*"),
        "{said}"
    );
    undo(&lab, &h);
    assert_eq!(h.snapshot(), before, "host restored");
    assert_eq!(enis(&lab), 0, "no hakit ENI left");
}

/// With the journal lost, `rollback --discover` finds the ENI's file in whichever form
/// setup wrote it, has its manager forget the interface, and leaves the host as it was.
#[test]
fn with_the_journal_lost_discover_finds_each_managers_form() {
    for (persist, service, forget) in [
        (
            EniPersist::NetworkManager,
            "NetworkManager",
            Undo::ReloadNetworkManager,
        ),
        (
            EniPersist::Ifupdown,
            "networking",
            Undo::IfdownInterface {
                interface: "ens6".into(),
            },
        ),
        (
            EniPersist::Ec2NetUtils,
            "systemd-networkd",
            Undo::ReloadNetworkd,
        ),
    ] {
        let lab = lab("lost");
        let h = host();
        h.state.borrow_mut().running.insert(service.into());
        // As on a real host: the managers' own directories were there before.
        for dir in [
            "/etc/systemd/network",
            "/etc/NetworkManager",
            "/etc/NetworkManager/system-connections",
            "/etc/network",
            "/etc/network/interfaces.d",
        ] {
            h.create_dir(Path::new(dir), 0o755).expect("dir");
        }
        h.write_atomic(
            Path::new("/etc/network/interfaces"),
            b"source /etc/network/interfaces.d/*\n",
            &hakit::host::Ownership::root(0o644),
        )
        .expect("interfaces");
        let before = h.snapshot();
        let mut s = steps(2);
        s.push(configure_eni(persist));
        run(&lab, &h, s);
        let found = lose_journal_and_discover(&h, &lab.cluster, &lab.cloud);
        for wanted in [
            forget.clone(),
            Undo::UnconfigureInterface {
                interface: "ens6".into(),
                address: own_eni(&lab).private_ip.expect("ip"),
                prefix: 26,
                table: 10001,
            },
        ] {
            assert!(
                found.entries.contains(&wanted),
                "{persist:?}: {wanted:?} in {:#?}",
                found.entries
            );
        }
        let report = hakit::rollback::run_entries(&h, Some(&lab.cloud), &found.entries, false);
        assert!(report.remaining.is_empty(), "{persist:?}: {report:?}");
        assert_eq!(enis(&lab), 0, "{persist:?}: no hakit ENI left");
        assert_eq!(h.snapshot(), before, "{persist:?}: host as before");
    }
}

#[test]
fn associate_eip() {
    three_cases("associate", 4, |lab, _| {
        let eni = own_eni(lab);
        assert_eq!(eip_state(lab), (true, Some(eni.id.clone())));
        assert_eq!(lab.cloud.count(Action::AssociateAddress), 1);
    });
}

#[test]
fn rollback_leaves_an_eip_another_node_now_holds() {
    let lab = lab("taken");
    let h = host();
    run(&lab, &h, steps(4));
    let other = lab
        .cloud
        .create_eni(&NewEni {
            cluster: "other".into(),
            node: "n2".into(),
            run: "r".into(),
            subnet_id: SUBNETS[1].0.into(),
            security_group_ids: vec![],
            client_token: "other-n2".into(),
        })
        .expect("other eni");
    lab.cloud
        .attach_eni(&other.id, INSTANCES[1])
        .expect("attach");
    lab.cloud
        .associate_eip(ALLOCATION, &other.id)
        .expect("failover to the other node");
    let held = lab.cloud.address_of(ALLOCATION).expect("allocated");
    lab.cloud.clear_calls();
    undo(&lab, &h);
    assert_eq!(
        lab.cloud.count(Action::DisassociateAddress),
        0,
        "{:#?}",
        lab.cloud.calls()
    );
    assert_eq!(
        lab.cloud.address_of(ALLOCATION),
        Some(held),
        "the other node keeps it, under the same association"
    );
    assert_eq!(enis(&lab), 0, "our ENI is gone");
    let left: Vec<String> = lab.cloud.enis().into_iter().map(|e| e.id).collect();
    assert_eq!(left, vec![other.id], "the other node's ENI stays");
}

#[test]
fn a_crash_between_create_and_journal_is_undone_by_tag_lookup() {
    let lab = lab("crash");
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
            subnet_id: SUBNETS[0].0.into(),
            security_group_ids: vec![],
            client_token: "crash-n1".into(),
        })
        .expect("create");
    lab.cloud.attach_eni(&eni.id, INSTANCES[0]).expect("attach");
    undo(&lab, &h);
    assert_eq!(enis(&lab), 0, "found by its tags and deleted");
    assert!(eip_state(&lab).0, "never released");
    // And a fresh setup then succeeds.
    h.remove_dir_if_empty(Path::new(STATE)).expect("rmdir");
    assert_eq!(run(&lab, &h, steps(4)), vec![Status::Applied; 4]);
    undo(&lab, &h);
    assert_eq!(eip_state(&lab), (true, None));
}

#[test]
fn throttling_is_retried_and_setup_succeeds() {
    let lab = lab("throttled");
    let h = host();
    lab.cloud
        .fail_next(Action::AssociateAddress, 2, "RequestLimitExceeded");
    lab.cloud
        .fail_next(Action::CreateNetworkInterface, 1, "RequestLimitExceeded");
    assert_eq!(run(&lab, &h, steps(4)), vec![Status::Applied; 4]);
    assert_eq!(lab.cloud.count(Action::AssociateAddress), 3);
    assert_eq!(lab.cloud.count(Action::CreateNetworkInterface), 2);
    assert_eq!(enis(&lab), 1, "one ENI despite the retried create");
    undo(&lab, &h);
    assert_eq!(eip_state(&lab), (true, None));
}

#[test]
fn a_failed_associate_is_rolled_back_and_setup_then_succeeds() {
    let lab = lab("refused");
    let h = host();
    let before = h.snapshot();
    // Throttled past the SDK's retries.
    lab.cloud
        .fail_next(Action::AssociateAddress, 5, "RequestLimitExceeded");
    let err = try_run(&lab, &h, steps(4)).expect_err("associate fails");
    assert!(
        format!("{err:#}").contains("RequestLimitExceeded"),
        "{err:#}"
    );
    assert_eq!(eip_state(&lab), (true, None), "not associated");
    undo(&lab, &h);
    assert_eq!(enis(&lab), 0, "no hakit ENI left");
    assert_eq!(h.snapshot(), before, "host restored");
    assert_eq!(eip_state(&lab), (true, None));
    assert_eq!(run(&lab, &h, steps(4)), vec![Status::Applied; 4]);
    undo(&lab, &h);
    assert_eq!(eip_state(&lab), (true, None));
}

/// A crash inside each AWS step (at every journal event: after each intent, after each
/// side effect before its done mark) is rolled back: no hakit ENI, the Elastic IP still
/// allocated and unassociated, the host as before.
#[test]
fn a_crash_at_every_journal_event_of_the_aws_steps_is_rolled_back() {
    let lab = lab("crash-events");
    let mut crashes = 0;
    for event in 1..=100 {
        let h = host();
        let before = h.snapshot();
        let crash = Some(CrashPoint {
            event,
            mode: CrashMode::Error,
        });
        match run_until(&lab, &h, steps(4), crash) {
            Ok(_) => {
                undo(&lab, &h);
                break;
            }
            Err(e) => assert!(format!("{e:#}").contains(CRASH_MESSAGE), "{e:#}"),
        }
        crashes += 1;
        undo(&lab, &h);
        assert_eq!(enis(&lab), 0, "event {event}: a hakit ENI is left");
        assert_eq!(eip_state(&lab), (true, None), "event {event}");
        assert_eq!(h.snapshot(), before, "event {event}: the host differs");
    }
    // Four steps, each with an intent and a done mark, plus the networkd unit and its dir.
    assert!((8..100).contains(&crashes), "{crashes} crash points");
}
