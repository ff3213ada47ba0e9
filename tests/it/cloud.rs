//! The real cloud code against moto's EC2 server and our IMDS server: facts, the ENI round
//! trip, the Elastic IP moving through `hakit notify`, reconcile, throttling and 5xx.

use crate::common::{hakit, must_run_privileged, run, stderr};
use crate::emulator::{
    eip_state, prepare, Fault, FaultProxy, Identity, ImdsServer, Moto, World, REGION,
};
use hakit_cloud::{Cloud, Ec2Cloud, Imds, Limits, NewEni};
use std::path::PathBuf;
use std::time::Duration;

fn cloud(endpoint: &str) -> Ec2Cloud {
    Ec2Cloud::connect(
        &hakit_cloud::Endpoint::emulator(endpoint, REGION),
        Limits {
            poll_interval: Duration::from_millis(20),
            ..Limits::default()
        },
    )
    .expect("client")
}

fn new_eni(world: &World, node: usize, cluster: &str) -> NewEni {
    NewEni {
        cluster: cluster.into(),
        node: format!("n{}", node + 1),
        run: "test-run".into(),
        subnet_id: world.subnets[node].0.clone(),
        security_group_ids: vec![],
        client_token: format!("{cluster}-n{}-test", node + 1),
    }
}

/// Both nodes' dedicated ENIs, created and attached as setup would.
fn attached_enis(c: &Ec2Cloud, world: &World, cluster: &str) -> Vec<String> {
    (0..2)
        .map(|i| {
            let eni = c.create_eni(&new_eni(world, i, cluster)).expect("create");
            c.attach_eni(&eni.id, &world.instances[i]).expect("attach");
            eni.id
        })
        .collect()
}

#[test]
fn imds_facts_reuse_the_token_and_renew_it_on_401() {
    let server = ImdsServer::start(Identity {
        instance_id: "i-0123456789abcdef0".into(),
        az: "us-east-1b".into(),
        mac: "0e:11:22:33:44:55".into(),
        subnet_id: "subnet-0abc".into(),
        subnet_cidr: "10.0.2.0/24".into(),
        vpc_id: "vpc-0abc".into(),
        private_ip: "10.0.2.11".into(),
    });
    let imds = Imds::new(&server.endpoint()).expect("client");
    let facts = imds.facts().expect("facts");
    assert_eq!(facts.instance_id, "i-0123456789abcdef0");
    assert_eq!(
        (facts.region.as_str(), facts.availability_zone.as_str()),
        (REGION, "us-east-1b")
    );
    assert_eq!(
        (
            facts.subnet_id.as_str(),
            facts.subnet_cidr.as_str(),
            facts.private_ip.as_str()
        ),
        ("subnet-0abc", "10.0.2.0/24", "10.0.2.11")
    );
    assert_eq!(
        server.token_puts.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one token for all eight reads"
    );
    server.rotate_tokens();
    assert_eq!(
        imds.get("/latest/meta-data/instance-id")
            .expect("after 401"),
        "i-0123456789abcdef0"
    );
    assert_eq!(
        server.token_puts.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "renewed once on 401"
    );
    assert_eq!(imds.token_fetches.get(), 2);
}

#[test]
fn imds_unreachable_is_a_clear_error() {
    let imds = Imds::new("http://127.0.0.1:9").expect("client");
    let err = imds
        .get("/latest/meta-data/instance-id")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("instance metadata") && err.contains("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
        "{err}"
    );
}

#[test]
fn eni_create_attach_detach_delete_round_trip() {
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let c = cloud(&moto.endpoint);
    let eni = c.create_eni(&new_eni(&world, 0, "rt")).expect("create");
    let found = c.find_enis("rt", Some("n1")).expect("find");
    assert_eq!(
        found.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec![eni.id.as_str()],
        "found again by its tags"
    );
    assert!(c.find_enis("rt", Some("n2")).expect("find").is_empty());
    let attachment = c.attach_eni(&eni.id, &world.instances[0]).expect("attach");
    assert_eq!(attachment.status, "attached");
    assert!(
        attachment.device_index.unwrap_or(0) >= 1,
        "the primary interface keeps index 0: {attachment:?}"
    );
    assert_eq!(
        c.attach_eni(&eni.id, &world.instances[0])
            .expect("attach again"),
        attachment,
        "attach is idempotent"
    );
    c.set_source_dest_check(&eni.id, false)
        .expect("source/dest check");
    c.detach_eni(&eni.id).expect("detach");
    assert!(c.find_enis("rt", Some("n1")).expect("find")[0]
        .attachment
        .as_ref()
        .is_none_or(|a| a.status == "detached"));
    c.detach_eni(&eni.id)
        .expect("detaching a detached ENI is a no-op");
    c.delete_eni(&eni.id).expect("delete");
    assert!(c.find_enis("rt", None).expect("find").is_empty());
    c.delete_eni(&eni.id)
        .expect("NotFound during undo means already undone");
}

#[test]
fn eip_association_reads_back_and_never_releases() {
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let c = cloud(&moto.endpoint);
    let enis = attached_enis(&c, &world, "assoc");
    let a = c
        .associate_eip(&world.allocation_id, &enis[0])
        .expect("associate");
    assert_eq!(a.network_interface_id.as_deref(), Some(enis[0].as_str()));
    let b = c
        .associate_eip(&world.allocation_id, &enis[1])
        .expect("reassociate without a disassociate gap");
    assert_eq!(b.network_interface_id.as_deref(), Some(enis[1].as_str()));
    c.disassociate_eip(b.association_id.as_deref().expect("association id"))
        .expect("disassociate");
    c.disassociate_eip(b.association_id.as_deref().expect("association id"))
        .expect("already gone is fine");
    assert_eq!(
        eip_state(&moto.endpoint, &world.allocation_id),
        (true, None),
        "still allocated, unassociated"
    );
}

#[test]
fn throttling_and_5xx_are_retried_then_reported_clearly() {
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let proxy = FaultProxy::start(&moto.endpoint);
    let limits = Limits {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(10),
        poll_interval: Duration::from_millis(20),
        ..Limits::default()
    };
    let c = Ec2Cloud::connect(
        &hakit_cloud::Endpoint::emulator(&proxy.endpoint(), REGION),
        limits,
    )
    .expect("client");
    let enis = attached_enis(&c, &world, "faults");
    let before = proxy.requests.load(std::sync::atomic::Ordering::SeqCst);
    proxy.inject(Fault::Throttle, 2);
    proxy.inject(Fault::Unavailable, 1);
    let a = c
        .associate_eip(&world.allocation_id, &enis[0])
        .expect("three transient failures are retried");
    assert_eq!(a.network_interface_id.as_deref(), Some(enis[0].as_str()));
    let used = proxy.requests.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(
        used >= 5,
        "3 failed attempts + associate + read-back, saw {used}"
    );

    proxy.inject(Fault::Throttle, 50);
    let before = proxy.requests.load(std::sync::atomic::Ordering::SeqCst);
    let err = c.address(&world.allocation_id).unwrap_err();
    let attempts = proxy.requests.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert_eq!(attempts, 4, "bounded by max_attempts");
    assert!(err.is_code("RequestLimitExceeded"), "{err}");
    assert!(
        err.to_string().contains("describing Elastic IP") && err.to_string().contains("hint"),
        "{err}"
    );
    proxy.faults.lock().expect("lock").clear();
}

struct NotifyLab {
    dir: tempfile::TempDir,
    config: PathBuf,
    endpoint: String,
}

fn notify_lab(endpoint: &str, world: &World, cluster: &str, vrid: u8) -> NotifyLab {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    let text = format!(
        "name = \"{cluster}\"\nmode = \"aws-eip\"\nprofile = \"haproxy\"\n\n[[node]]\nname = \"n1\"\naddress = \"10.0.1.11\"\n\n[[node]]\nname = \"n2\"\naddress = \"10.0.2.11\"\n\n[[backend]]\naddress = \"10.0.1.21:3306\"\n\n[aws]\neip_allocation_id = \"{}\"\nregion = \"{REGION}\"\n\n[vrrp]\nvirtual_router_id = {vrid}\n\n[paths]\nstate_dir = \"{d}/state\"\nlog_dir = \"{d}/log\"\n",
        world.allocation_id
    );
    let config = dir.path().join("cluster.toml");
    std::fs::write(&config, text).expect("config");
    NotifyLab {
        dir,
        config,
        endpoint: endpoint.to_string(),
    }
}

fn notify(lab: &NotifyLab, args: &[&str]) -> std::process::Output {
    run(hakit()
        .arg("notify")
        .arg("--config")
        .arg(&lab.config)
        .args(args)
        .env("AWS_ENDPOINT_URL", &lab.endpoint)
        .env("AWS_ACCESS_KEY_ID", "emulator")
        .env("AWS_SECRET_ACCESS_KEY", "emulator")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE"))
}

fn log_lines(lab: &NotifyLab) -> Vec<String> {
    std::fs::read_to_string(lab.dir.path().join("log/failover.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn notify_moves_the_eip_master_backup_master_and_backup_leaves_it_alone() {
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let c = cloud(&moto.endpoint);
    let enis = attached_enis(&c, &world, "move");
    let lab = notify_lab(&moto.endpoint, &world, "move", 61);
    let holder = || eip_state(&moto.endpoint, &world.allocation_id).1;

    let out = notify(&lab, &["--node", "n1", "master"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(holder().as_deref(), Some(enis[0].as_str()));

    let out = notify(&lab, &["--node", "n2", "master"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(holder().as_deref(), Some(enis[1].as_str()));

    for state in ["backup", "fault", "stop"] {
        let out = notify(&lab, &["--node", "n1", state]);
        assert!(out.status.success(), "{state}: {}", stderr(&out));
        assert_eq!(
            holder().as_deref(),
            Some(enis[1].as_str()),
            "notify {state} on n1 must not touch n2's association"
        );
    }

    let out = notify(&lab, &["--node", "n1", "master", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(outcome["action"], "associated");
    assert_eq!(holder().as_deref(), Some(enis[0].as_str()));

    let again = notify(&lab, &["--node", "n1", "master", "--output", "json"]);
    let outcome: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(outcome["action"], "already-ours", "idempotent");

    let lines = log_lines(&lab);
    assert_eq!(lines.len(), 7, "one line per transition: {lines:#?}");
    assert!(
        lines[0].contains("node=n1 state=master action=associated") && lines[0].contains(&enis[0]),
        "{}",
        lines[0]
    );
    assert!(
        lines[2].contains("state=backup action=left-alone"),
        "{}",
        lines[2]
    );
    assert!(
        eip_state(&moto.endpoint, &world.allocation_id).0,
        "never released"
    );
}

#[test]
fn notify_without_an_eni_says_to_run_setup() {
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let lab = notify_lab(&moto.endpoint, &world, "noeni", 62);
    let out = notify(&lab, &["--node", "n1", "master"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("hakit setup"), "{}", stderr(&out));
    assert!(
        log_lines(&lab)[0].contains("action=error"),
        "errors are logged too"
    );
}

/// The aws-eip marker address on lo while a test runs (removed on drop).
struct Marker(String);

impl Marker {
    fn add(vrid: u8) -> Marker {
        let addr = format!("169.254.250.{vrid}/32");
        let status = std::process::Command::new("ip")
            .args(["addr", "add", &addr, "dev", "lo", "scope", "host"])
            .status()
            .expect("ip");
        assert!(status.success(), "adding {addr} to lo");
        Marker(addr)
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["addr", "del", &self.0, "dev", "lo"])
            .status();
    }
}

#[test]
fn reconcile_retakes_a_lost_association_only_on_the_master() {
    if !must_run_privileged("reconcile (adds a link-local marker to lo)") {
        return;
    }
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let c = cloud(&moto.endpoint);
    let enis = attached_enis(&c, &world, "recon");
    let lab = notify_lab(&moto.endpoint, &world, "recon", 253);
    let holder = || eip_state(&moto.endpoint, &world.allocation_id).1;
    c.associate_eip(&world.allocation_id, &enis[1])
        .expect("someone else holds it");

    // Not master (no marker): reconcile leaves it alone and logs nothing.
    let out = notify(&lab, &["--node", "n1", "--reconcile"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(holder().as_deref(), Some(enis[1].as_str()));
    assert!(log_lines(&lab).is_empty());

    let _marker = Marker::add(253);
    let out = notify(&lab, &["--node", "n1", "--reconcile"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        holder().as_deref(),
        Some(enis[0].as_str()),
        "the master took its address back"
    );
    let out = notify(&lab, &["--node", "n1", "--reconcile"]);
    assert!(out.status.success());
    assert_eq!(
        log_lines(&lab).len(),
        1,
        "a reconcile that finds everything in order is silent"
    );
}

#[test]
fn plan_preflight_checks_each_action_with_dry_run() {
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let lab = notify_lab(&moto.endpoint, &world, "pre", 64);
    let text = std::fs::read_to_string(&lab.config)
        .expect("config")
        .replace(
            "address = \"10.0.1.11\"",
            &format!(
                "address = \"10.0.1.11\"\ninstance_id = \"{}\"",
                world.instances[0]
            ),
        );
    std::fs::write(&lab.config, text).expect("config");
    // IMDS gives the node's subnet, which the CreateNetworkInterface check names.
    let imds = ImdsServer::start(Identity {
        instance_id: world.instances[0].clone(),
        az: world.subnets[0].2.clone(),
        mac: "0e:11:22:33:44:55".into(),
        subnet_id: world.subnets[0].0.clone(),
        subnet_cidr: world.subnets[0].1.clone(),
        vpc_id: "vpc-0abc".into(),
        private_ip: "192.0.2.75".into(),
    });
    let preflight = |output: &str| {
        let out = run(hakit()
            .args([
                "plan",
                "--role",
                "master",
                "--preflight",
                "--output",
                output,
            ])
            .arg("--config")
            .arg(&lab.config)
            .env("AWS_ENDPOINT_URL", &lab.endpoint)
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint())
            .env("AWS_ACCESS_KEY_ID", "emulator")
            .env("AWS_SECRET_ACCESS_KEY", "emulator"));
        assert!(out.status.success(), "{}", stderr(&out));
        out
    };
    let every_action = [
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeAddresses",
        "ec2:DescribeInstances",
        "ec2:CreateNetworkInterface",
        "ec2:AttachNetworkInterface",
        "ec2:ModifyNetworkInterfaceAttribute",
        "ec2:CreateTags",
        "ec2:AssociateAddress",
        "ec2:DisassociateAddress",
        "ec2:DetachNetworkInterface",
        "ec2:DeleteNetworkInterface",
    ];
    // Each action in order, with its verdict; `used_for` always, `fix` unless allowed.
    let verdicts = |stdout: &[u8]| -> Vec<(String, String)> {
        let plan: serde_json::Value = serde_json::from_slice(stdout).expect("json");
        let checks = plan["preflight"].as_array().expect("preflight results");
        let actions: Vec<&str> = checks.iter().filter_map(|c| c["action"].as_str()).collect();
        assert_eq!(
            actions, every_action,
            "every action setup, notify and rollback use"
        );
        for c in checks {
            assert_eq!(c["allowed"], c["verdict"] == "allowed", "{c}");
            assert!(c["used_for"].as_str().is_some_and(|u| !u.is_empty()), "{c}");
            assert_eq!(c.get("fix").is_some(), c["verdict"] != "allowed", "{c}");
        }
        checks
            .iter()
            .map(|c| {
                (
                    c["action"].as_str().unwrap_or_default().to_string(),
                    c["verdict"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    // Before setup the ENI checks name a placeholder ENI. moto, like EC2 for most actions,
    // checks DryRun permission first (allowed); for AssociateAddress it looks the ENI up
    // first, so there is no verdict: unknown, never allowed or denied by guesswork.
    let out = preflight("json");
    for (action, verdict) in verdicts(&out.stdout) {
        let expected = if action == "ec2:AssociateAddress" {
            "unknown"
        } else {
            "allowed"
        };
        assert_eq!(verdict, expected, "{action}");
    }
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let associate = &plan["preflight"][7];
    assert!(
        associate["error"]
            .as_str()
            .is_some_and(|e| e.contains("InvalidNetworkInterfaceID.NotFound"))
            && associate["fix"]
                .as_str()
                .is_some_and(|f| f.contains("placeholder") && f.contains("hakit iam policy")),
        "{associate}"
    );
    // After setup made the node's ENI: they name it.
    let c = cloud(&moto.endpoint);
    let eni = c.create_eni(&new_eni(&world, 0, "pre")).expect("create");
    c.attach_eni(&eni.id, &world.instances[0]).expect("attach");
    assert!(verdicts(&preflight("json").stdout)
        .iter()
        .all(|(_, verdict)| verdict == "allowed"));
    let doc = std::fs::read_to_string(format!("{}/docs/json.md", env!("CARGO_MANIFEST_DIR")))
        .expect("docs/json.md");
    for documented in every_action
        .iter()
        .chain(&["verdict", "used_for", "fix", "allowed", "denied", "unknown"])
    {
        assert!(
            doc.contains(&format!("`{documented}`")),
            "{documented} is not in docs/json.md"
        );
    }
    let text = String::from_utf8_lossy(&preflight("text").stdout).into_owned();
    for action in every_action {
        assert!(text.contains(&format!("  {action}: allowed\n")), "{text}");
    }
    assert!(
        text.contains("11 allowed, 0 denied, 0 unknown of 11 actions"),
        "{text}"
    );
}

#[test]
fn iam_policy_names_the_allocation_and_the_cluster_tag() {
    let config = format!("{}/examples/aws-proxysql.toml", env!("CARGO_MANIFEST_DIR"));
    let out = run(hakit().args(["iam", "policy", "--config", &config]));
    assert!(out.status.success(), "{}", stderr(&out));
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let text = policy.to_string();
    assert!(
        text.contains("elastic-ip/eipalloc-0123456789abcdef0")
            && text.contains("aws:ResourceTag/hakit:cluster"),
        "{text}"
    );
    assert!(!text.contains("ReleaseAddress"));
}

#[test]
fn status_reports_the_holder_the_eni_and_the_last_failover() {
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let c = cloud(&moto.endpoint);
    let enis = attached_enis(&c, &world, "stat");
    let lab = notify_lab(&moto.endpoint, &world, "stat", 65);
    assert!(notify(&lab, &["--node", "n2", "master"]).status.success());
    let out = run(hakit()
        .args(["status", "--node", "n1", "--output", "json", "--config"])
        .arg(&lab.config)
        .env("AWS_ENDPOINT_URL", &lab.endpoint)
        .env("AWS_ACCESS_KEY_ID", "emulator")
        .env("AWS_SECRET_ACCESS_KEY", "emulator"));
    // No proxy runs for n1 here: degraded (exit 4), with the report printed all the same.
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not accepting connections"),
        "{}",
        stderr(&out)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["address"]["holder"], "n2", "{status}");
    assert_eq!(status["address"]["eni"], enis[0].as_str());
    assert_eq!(status["address"]["eni_attachment"], "attached");
    assert_eq!(status["vrrp_state"], "not-master");
    assert!(
        status["last_failover"]
            .as_str()
            .is_some_and(|l| l.contains("node=n2 state=master")),
        "{status}"
    );
}

#[test]
fn reconcile_leaves_the_address_with_another_master_until_it_reports_backup() {
    if !must_run_privileged("reconcile during a split brain (adds a link-local marker to lo)") {
        return;
    }
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let c = cloud(&moto.endpoint);
    let enis = attached_enis(&c, &world, "split");
    let lab = notify_lab(&moto.endpoint, &world, "split", 252);
    let holder = || eip_state(&moto.endpoint, &world.allocation_id).1;
    assert!(notify(&lab, &["--node", "n2", "master"]).status.success());
    assert_eq!(holder().as_deref(), Some(enis[1].as_str()));
    let _marker = Marker::add(252);
    // n1 also believes it is master (split brain): it must not take the address back.
    let out = notify(&lab, &["--node", "n1", "--reconcile", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(outcome["action"], "held-by-another-master", "{outcome}");
    assert_eq!(
        holder().as_deref(),
        Some(enis[1].as_str()),
        "the address changed hands only once"
    );
    // The split goes on: later reconciles leave the address alone too, and log (and post)
    // nothing more: one line per split, not one per reconcile interval.
    let held = |lab: &NotifyLab| {
        log_lines(lab)
            .iter()
            .filter(|l| {
                l.contains("node=n1 state=master action=held-by-another-master trigger=reconcile ")
            })
            .count()
    };
    for _ in 0..2 {
        let out = notify(&lab, &["--node", "n1", "--reconcile", "--output", "json"]);
        let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(outcome["action"], "held-by-another-master", "{outcome}");
    }
    assert_eq!(held(&lab), 1, "{:#?}", log_lines(&lab));
    // The link heals, n2 steps down and reports it: the next reconcile on n1 takes it.
    assert!(notify(&lab, &["--node", "n2", "backup"]).status.success());
    assert!(notify(&lab, &["--node", "n1", "--reconcile"])
        .status
        .success());
    assert_eq!(holder().as_deref(), Some(enis[0].as_str()));
    assert!(
        log_lines(&lab).last().is_some_and(
            |l| l.contains("node=n1 state=master action=associated trigger=reconcile ")
        ),
        "{:#?}",
        log_lines(&lab)
    );
    // A new split is news again.
    assert!(notify(&lab, &["--node", "n2", "master"]).status.success());
    let out = notify(&lab, &["--node", "n1", "--reconcile", "--output", "json"]);
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(outcome["action"], "held-by-another-master", "{outcome}");
    assert_eq!(held(&lab), 2, "{:#?}", log_lines(&lab));
}

/// A node that dies never clears its `hakit:state=master` report. If the survivor's one
/// `notify master` call failed (throttling, a timeout), its reconcile must still take the
/// address: a master report older than three reconcile intervals (15 s here) is stale.
#[test]
fn reconcile_takes_the_address_from_a_dead_master_whose_report_went_stale() {
    if !must_run_privileged("reconcile after a node death (adds a link-local marker to lo)") {
        return;
    }
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let c = cloud(&moto.endpoint);
    let enis = attached_enis(&c, &world, "dead");
    let lab = notify_lab(&moto.endpoint, &world, "dead", 253);
    let holder = || eip_state(&moto.endpoint, &world.allocation_id).1;
    assert!(notify(&lab, &["--node", "n1", "master"]).status.success());
    assert_eq!(holder().as_deref(), Some(enis[0].as_str()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    // n1 died 60 s ago: its last report is that old. n2 became VRRP master, and its
    // transition's notify never reached EC2.
    c.tag_eni(
        &enis[0],
        hakit_cloud::TAG_STATE,
        &hakit_cloud::state_tag("master", now - 60),
    )
    .expect("tag");
    let _marker = Marker::add(253);
    let out = notify(&lab, &["--node", "n2", "--reconcile", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(outcome["action"], "associated", "{outcome}");
    assert_eq!(holder().as_deref(), Some(enis[1].as_str()));
    // n2's own report is fresh now; a report 5 s old still counts as a live master.
    c.tag_eni(
        &enis[1],
        hakit_cloud::TAG_STATE,
        &hakit_cloud::state_tag("master", now - 5),
    )
    .expect("tag");
    let out = notify(&lab, &["--node", "n1", "--reconcile", "--output", "json"]);
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(outcome["action"], "held-by-another-master", "{outcome}");
    assert_eq!(holder().as_deref(), Some(enis[1].as_str()));
}

#[test]
fn notify_posts_the_transition_to_the_webhook_from_the_secrets_file() {
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;
    let Some(moto) = Moto::start() else { return };
    let world = prepare(&moto.endpoint);
    let c = cloud(&moto.endpoint);
    attached_enis(&c, &world, "hook");
    let lab = notify_lab(&moto.endpoint, &world, "hook", 66);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let conf_dir = lab.dir.path().join("etc");
    std::fs::create_dir_all(&conf_dir).expect("dir");
    let text = std::fs::read_to_string(&lab.config).expect("config")
        + &format!("config_dir = \"{}\"\n", conf_dir.display());
    std::fs::write(&lab.config, text).expect("config");
    let secrets = conf_dir.join("secrets.toml");
    let body = format!(
        "{}webhook_url = \"http://127.0.0.1:{port}/hook\"\nwebhook_token = \"TESTwebhook\"\n",
        crate::common::TEST_SECRETS
    );
    std::fs::write(&secrets, body).expect("secrets");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("one webhook call");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Read until the JSON body has arrived (bounded by the read timeout).
        while !String::from_utf8_lossy(&request).contains("took_ms") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        String::from_utf8_lossy(&request).into_owned()
    });
    let out = notify(&lab, &["--node", "n1", "master"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let request = server.join().expect("server");
    assert!(request.starts_with("POST /hook"), "{request}");
    assert!(
        request.contains("Authorization: Bearer TESTwebhook")
            || request.contains("authorization: Bearer TESTwebhook"),
        "{request}"
    );
    assert!(
        request.contains("\"state\":\"master\"") && request.contains("\"action\":\"associated\""),
        "{request}"
    );
    assert!(
        !stderr(&out).contains("TESTwebhook"),
        "the token is never printed"
    );
}
