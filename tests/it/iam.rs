//! `hakit iam apply` / `hakit iam rollback` against moto's IAM (served on the same endpoint
//! as its EC2): the role, inline policy and instance profile are created, a second apply
//! changes nothing, rollback removes them (twice is fine), and a failure mid-way or an
//! interruption between a change and its journal entry leaves a journal rollback finishes.

use crate::common::{hakit, run, stderr};
use crate::emulator::{runtime, Fault, FaultProxy, Moto, REGION};
use hakit::host::RealHost;
use hakit_cloud::iam_sdk;
use hakit_cloud::{CloudError, Iam, IamCloud, IamRole, InstanceProfile, Limits};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

struct Lab {
    dir: tempfile::TempDir,
    config: PathBuf,
    endpoint: String,
    cluster: String,
}

impl Lab {
    fn new(endpoint: &str, cluster: &str) -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "name = \"{cluster}\"\nmode = \"aws-eip\"\nprofile = \"haproxy\"\n\n[[node]]\nname = \"n1\"\naddress = \"10.0.1.11\"\n\n[[node]]\nname = \"n2\"\naddress = \"10.0.2.11\"\n\n[[backend]]\naddress = \"10.0.1.21:3306\"\n\n[aws]\neip_allocation_id = \"eipalloc-0123456789abcdef0\"\nregion = \"{REGION}\"\n\n[vrrp]\nvirtual_router_id = 70\n\n[paths]\nstate_dir = \"{}/state\"\n",
            dir.path().display()
        );
        let config = dir.path().join("cluster.toml");
        std::fs::write(&config, text).expect("config");
        Lab {
            dir,
            config,
            endpoint: endpoint.to_string(),
            cluster: cluster.to_string(),
        }
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn journal(&self) -> PathBuf {
        self.state_dir().join("iam-journal.json")
    }

    fn name(&self) -> String {
        format!("hakit-{}", self.cluster)
    }

    fn hakit(&self, args: &[&str]) -> Output {
        run(hakit()
            .arg("iam")
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "emulator")
            .env("AWS_SECRET_ACCESS_KEY", "emulator")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("HAKIT_OUTPUT"))
    }

    fn cluster(&self) -> hakit::config::Cluster {
        hakit::config::load(&self.config).expect("cluster file")
    }
}

fn client(endpoint: &str) -> IamCloud {
    IamCloud::connect(
        &hakit_cloud::Endpoint::emulator(endpoint, REGION),
        Limits {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(10),
            poll_interval: Duration::from_millis(20),
            ..Limits::default()
        },
    )
    .expect("IAM client")
}

/// The raw SDK against the emulator, to look at (or prepare) IAM without hakit's code.
fn sdk(rt: &tokio::runtime::Runtime, endpoint: &str) -> iam_sdk::Client {
    use hakit_cloud::sdk_config::BehaviorVersion;
    let creds = iam_sdk::config::Credentials::new("emulator", "emulator", None, None, "test");
    let conf = rt.block_on(
        hakit_cloud::sdk_config::defaults(BehaviorVersion::latest())
            .region(hakit_cloud::sdk_config::Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .load(),
    );
    iam_sdk::Client::new(&conf)
}

/// What IAM holds under hakit's names, read with the plain SDK.
#[derive(Debug, PartialEq)]
struct Seen {
    role_tag: Option<String>,
    trust: Option<serde_json::Value>,
    policy: Option<serde_json::Value>,
    profile_tag: Option<String>,
    profile_roles: Option<Vec<String>>,
}

fn seen(endpoint: &str, name: &str) -> Seen {
    let rt = runtime();
    let iam = sdk(&rt, endpoint);
    rt.block_on(async {
        let role = iam.get_role().role_name(name).send().await.ok();
        let role = role.as_ref().and_then(|r| r.role());
        let policy = iam
            .get_role_policy()
            .role_name(name)
            .policy_name(name)
            .send()
            .await
            .ok();
        let profile = iam
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .ok();
        let profile = profile.as_ref().and_then(|p| p.instance_profile());
        let tag = |tags: &[iam_sdk::types::Tag]| {
            tags.iter()
                .find(|t| t.key() == "hakit:cluster")
                .map(|t| t.value().to_string())
        };
        let json = |text: &str| {
            serde_json::from_str::<serde_json::Value>(&hakit_cloud::decode_policy_document(text))
                .expect("a JSON policy document")
        };
        Seen {
            role_tag: role.and_then(|r| tag(r.tags())),
            trust: role.and_then(|r| r.assume_role_policy_document()).map(json),
            policy: policy.map(|p| json(p.policy_document())),
            profile_tag: profile.and_then(|p| tag(p.tags())),
            profile_roles: profile.map(|p| {
                p.roles()
                    .iter()
                    .map(|r| r.role_name().to_string())
                    .collect()
            }),
        }
    })
}

fn nothing() -> Seen {
    Seen {
        role_tag: None,
        trust: None,
        policy: None,
        profile_tag: None,
        profile_roles: None,
    }
}

fn journal_entries(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("the IAM journal");
    let journal: serde_json::Value = serde_json::from_str(&text).expect("json");
    journal["entries"].as_array().expect("entries").clone()
}

#[test]
fn iam_apply_creates_the_role_policy_and_profile_once_and_iam_rollback_removes_them() {
    let Some(moto) = Moto::start() else { return };
    let lab = Lab::new(&moto.endpoint, "orders");
    let name = lab.name();

    let out = lab.hakit(&["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected_policy = {
        let out = lab.hakit(&["policy"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("policy json")
    };
    let s = seen(&lab.endpoint, &name);
    assert_eq!(s.role_tag.as_deref(), Some("orders"), "{s:?}");
    let trust = s.trust.clone().expect("a trust policy");
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"], "ec2.amazonaws.com",
        "{trust}"
    );
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    assert_eq!(
        s.policy.as_ref(),
        Some(&expected_policy),
        "the inline policy is `hakit iam policy`"
    );
    assert_eq!(s.profile_tag.as_deref(), Some("orders"));
    assert_eq!(s.profile_roles, Some(vec![name.clone()]));
    let entries = journal_entries(&lab.journal());
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert!(entries.iter().all(|e| e["state"] == "done"), "{entries:?}");
    // Not the node's journal: a node's `hakit rollback` never sees the role.
    assert!(!lab.state_dir().join("journal.json").exists());

    // The same again: nothing changes, and it says so.
    let journal_before = std::fs::read(lab.journal()).expect("journal");
    let out = lab.hakit(&["apply", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let reports = reports.as_array().expect("an array of steps");
    assert_eq!(reports.len(), 4);
    assert!(
        reports.iter().all(|r| r["status"] == "already-done"),
        "{reports:?}"
    );
    assert!(
        stderr(&out).contains("nothing to change"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(lab.journal()).expect("journal"),
        journal_before
    );
    assert_eq!(seen(&lab.endpoint, &name), s);

    let out = lab.hakit(&["rollback", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["undone"].as_array().map(Vec::len),
        Some(4),
        "{report}"
    );
    assert_eq!(report["remaining"].as_array().map(Vec::len), Some(0));
    assert_eq!(seen(&lab.endpoint, &name), nothing());
    assert!(!lab.journal().exists());
    assert!(
        !lab.state_dir().exists(),
        "iam apply created the state dir, so rollback removes it"
    );

    let out = lab.hakit(&["rollback"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to undo"), "{}", stderr(&out));
}

#[test]
fn a_failed_iam_apply_leaves_a_journal_iam_rollback_cleans_up_and_foreign_entities_stay() {
    let Some(moto) = Moto::start() else { return };
    let lab = Lab::new(&moto.endpoint, "payments");
    let name = lab.name();
    // Someone else's instance profile under hakit's name: apply must stop there.
    let rt = runtime();
    rt.block_on(
        sdk(&rt, &lab.endpoint)
            .create_instance_profile()
            .instance_profile_name(&name)
            .send(),
    )
    .expect("a foreign instance profile");

    let out = lab.hakit(&["apply"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "instance profile {name} already exists and is not hakit's"
        )) && err.contains("hakit iam rollback"),
        "{err}"
    );
    let s = seen(&lab.endpoint, &name);
    assert_eq!(s.role_tag.as_deref(), Some("payments"));
    assert!(s.policy.is_some());
    let undos: Vec<String> = journal_entries(&lab.journal())
        .iter()
        .map(|e| e["undo"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(undos, ["delete-role", "delete-role-policy"]);

    let out = lab.hakit(&["rollback"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = seen(&lab.endpoint, &name);
    assert_eq!((s.role_tag, s.policy), (None, None), "role and policy gone");
    assert_eq!(
        s.profile_roles,
        Some(vec![]),
        "the foreign profile is left alone"
    );
    assert!(!lab.journal().exists());
    let out = lab.hakit(&["rollback"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Wraps the real client and fails right after the real add-role call went through: as if
/// the process died between the change and marking its journal entry done.
struct DiesAfterAddRole(IamCloud);

impl Iam for DiesAfterAddRole {
    fn role(&self, name: &str) -> Result<Option<IamRole>, CloudError> {
        self.0.role(name)
    }
    fn create_role(&self, name: &str, cluster: &str) -> Result<IamRole, CloudError> {
        self.0.create_role(name, cluster)
    }
    fn role_policy(&self, role: &str, policy: &str) -> Result<Option<String>, CloudError> {
        self.0.role_policy(role, policy)
    }
    fn put_role_policy(&self, role: &str, policy: &str, document: &str) -> Result<(), CloudError> {
        self.0.put_role_policy(role, policy, document)
    }
    fn instance_profile(&self, name: &str) -> Result<Option<InstanceProfile>, CloudError> {
        self.0.instance_profile(name)
    }
    fn create_instance_profile(
        &self,
        name: &str,
        cluster: &str,
    ) -> Result<InstanceProfile, CloudError> {
        self.0.create_instance_profile(name, cluster)
    }
    fn add_role_to_instance_profile(&self, profile: &str, role: &str) -> Result<(), CloudError> {
        self.0.add_role_to_instance_profile(profile, role)?;
        Err(CloudError::new("simulated crash", None, "after the change"))
    }
    fn remove_role_from_instance_profile(
        &self,
        profile: &str,
        role: &str,
    ) -> Result<(), CloudError> {
        self.0.remove_role_from_instance_profile(profile, role)
    }
    fn delete_instance_profile(&self, name: &str) -> Result<(), CloudError> {
        self.0.delete_instance_profile(name)
    }
    fn delete_role_policy(&self, role: &str, policy: &str) -> Result<(), CloudError> {
        self.0.delete_role_policy(role, policy)
    }
    fn delete_role(&self, name: &str) -> Result<(), CloudError> {
        self.0.delete_role(name)
    }
}

#[test]
fn a_change_made_before_its_journal_entry_was_marked_done_is_undone_from_the_intent() {
    let Some(moto) = Moto::start() else { return };
    let lab = Lab::new(&moto.endpoint, "crash");
    let name = lab.name();
    let cluster = lab.cluster();
    let dying = DiesAfterAddRole(client(&lab.endpoint));
    let err = hakit::iam::apply(&RealHost, &dying, &cluster, &lab.state_dir(), &mut |_| {})
        .expect_err("the simulated crash");
    assert!(format!("{err:#}").contains("step 4"), "{err:#}");
    let entries = journal_entries(&lab.journal());
    let last = entries.last().expect("entries");
    assert_eq!(
        (last["undo"].as_str(), last["state"].as_str()),
        (Some("remove-role-from-instance-profile"), Some("intent")),
        "{entries:?}"
    );
    assert_eq!(
        seen(&lab.endpoint, &name).profile_roles,
        Some(vec![name.clone()])
    );

    // The next apply finds the change made and just completes the journal.
    let iam = client(&lab.endpoint);
    let reports = hakit::iam::apply(&RealHost, &iam, &cluster, &lab.state_dir(), &mut |_| {})
        .expect("apply again");
    assert!(reports
        .iter()
        .all(|r| r.status == hakit::apply::Status::AlreadyDone));
    assert!(journal_entries(&lab.journal())
        .iter()
        .all(|e| e["state"] == "done"));

    // An interrupted apply that nobody re-ran: rollback alone undoes it from the intent.
    hakit::iam::rollback(&RealHost, Some(&iam), &lab.state_dir()).expect("rollback");
    let _ = hakit::iam::apply(&RealHost, &dying, &cluster, &lab.state_dir(), &mut |_| {});
    let out = lab.hakit(&["rollback"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(seen(&lab.endpoint, &name), nothing());
    assert!(!lab.journal().exists());
}

#[test]
fn iam_throttling_is_retried_and_a_persistent_fault_is_reported_with_nothing_left() {
    let Some(moto) = Moto::start() else { return };
    let proxy = FaultProxy::start(&moto.endpoint);
    let lab = Lab::new(&proxy.endpoint(), "faulty");
    proxy.inject(Fault::Throttle, 2);
    proxy.inject(Fault::Unavailable, 1);
    let out = lab.hakit(&["apply"]);
    assert!(
        out.status.success(),
        "transient faults are retried: {}",
        stderr(&out)
    );
    assert_eq!(
        seen(&moto.endpoint, &lab.name()).role_tag.as_deref(),
        Some("faulty")
    );
    let out = lab.hakit(&["rollback"]);
    assert!(out.status.success(), "{}", stderr(&out));

    proxy.inject(Fault::Unavailable, 50);
    let out = lab.hakit(&["apply"]);
    proxy.faults.lock().expect("lock").clear();
    assert_eq!(
        out.status.code(),
        Some(1),
        "nothing was changed: {}",
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("reading IAM role {} (iam:GetRole)", lab.name())),
        "{err}"
    );
    assert!(!lab.journal().exists() || journal_entries(&lab.journal()).is_empty());
}

/// An IAM journal written by hakit 0.1.0 (tests/fixtures/v0.1.0-iam) is read and rolled
/// back by this release: the entities it names are removed, the journal with them.
#[test]
fn an_iam_journal_written_by_release_0_1_0_is_rolled_back_by_this_one() {
    let Some(moto) = Moto::start() else { return };
    let lab = Lab::new(&moto.endpoint, "compat");
    let out = lab.hakit(&["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(seen(&lab.endpoint, &lab.name()), nothing());
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0.1.0-iam/iam-journal.json");
    std::fs::copy(&fixture, lab.journal()).expect("the 0.1.0 journal");

    let out = lab.hakit(&["rollback", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["undone"].as_array().map(Vec::len),
        Some(4),
        "{report}"
    );
    assert_eq!(seen(&lab.endpoint, &lab.name()), nothing());
    assert!(!lab.journal().exists());
}

#[test]
fn iam_apply_refuses_an_l2_vip_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        crate::common::cluster_toml("haproxy", "l2-vip", ""),
    )
    .expect("config");
    let out = run(hakit().args(["iam", "apply", "--config"]).arg(&config));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("l2-vip"), "{}", stderr(&out));
}
