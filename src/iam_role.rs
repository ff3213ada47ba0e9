//! `hakit iam apply` and `hakit iam rollback`: the cluster's instance role (trusted by EC2),
//! its inline policy (`hakit iam policy`) and the instance profile carrying it, created
//! through a write-ahead journal of their own and undone from it in reverse.
//!
//! The role is per cluster and shared by both nodes, and usually created from an admin
//! machine, so its journal is a separate file (`iam-journal.json` in the state dir): a
//! node's `hakit rollback` never reads it and never deletes the role. Only entities tagged
//! `hakit:cluster` with this cluster are ever changed or deleted; a same-named entity that
//! is not hakit's is reported, never adopted.

use crate::apply::{Status, StepReport};
use crate::config::Cluster;
use crate::journal::EntryState;
use crate::rollback::RollbackReport;
use anyhow::{bail, Context};
use hakit_cloud::{Iam, TAG_CLUSTER};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const JOURNAL_FILE: &str = "iam-journal.json";

/// The names hakit gives the cluster's IAM entities: all `hakit-<cluster>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub role: String,
    pub policy: String,
    pub profile: String,
}

impl Names {
    pub fn of(cluster: &str) -> Self {
        let name = format!("hakit-{cluster}");
        Names {
            role: name.clone(),
            policy: name.clone(),
            profile: name,
        }
    }
}

/// How to undo one IAM change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "kebab-case")]
pub enum IamUndo {
    DeleteRole { role: String },
    DeleteRolePolicy { role: String, policy: String },
    DeleteInstanceProfile { profile: String },
    RemoveRoleFromInstanceProfile { profile: String, role: String },
}

impl IamUndo {
    pub fn describe(&self) -> String {
        match self {
            IamUndo::DeleteRole { role } => format!("delete IAM role {role}"),
            IamUndo::DeleteRolePolicy { role, policy } => {
                format!("delete inline policy {policy} of IAM role {role}")
            }
            IamUndo::DeleteInstanceProfile { profile } => {
                format!("delete instance profile {profile}")
            }
            IamUndo::RemoveRoleFromInstanceProfile { profile, role } => {
                format!("remove IAM role {role} from instance profile {profile}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamEntry {
    pub state: EntryState,
    #[serde(flatten)]
    pub undo: IamUndo,
}

/// The IAM journal: like [`crate::journal::Journal`], an intent is persisted before each
/// change and marked done after it. Written by whoever runs `iam apply` (mode 0600, not
/// necessarily root: an admin machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamJournal {
    pub version: u32,
    pub cluster: String,
    pub entries: Vec<IamEntry>,
    /// The state dir, when `iam apply` created it: removed again if empty after rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_dir: Option<PathBuf>,
    #[serde(skip)]
    pub path: PathBuf,
}

impl IamJournal {
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join(JOURNAL_FILE)
    }

    pub fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut journal: IamJournal = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "parsing the IAM journal {} (do not edit it by hand)",
                path.display()
            )
        })?;
        journal.path = path.to_path_buf();
        Ok(Some(journal))
    }

    /// The journal in `state_dir`, or a new one (not yet written).
    pub fn open(state_dir: &Path, cluster: &str) -> anyhow::Result<Self> {
        let path = Self::path_in(state_dir);
        let journal = match Self::load(&path)? {
            Some(journal) => journal,
            None => IamJournal {
                version: 1,
                cluster: cluster.to_string(),
                entries: vec![],
                created_dir: None,
                path,
            },
        };
        if journal.cluster != cluster {
            bail!(
                "{} belongs to cluster {}, not {cluster}: use the state dir of this cluster (--state-dir)",
                journal.path.display(),
                journal.cluster
            );
        }
        Ok(journal)
    }

    /// Persist atomically: a temporary file (0600), fsync, rename, fsync the directory.
    pub fn save(&mut self) -> anyhow::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = self
            .path
            .parent()
            .with_context(|| format!("{} has no parent directory", self.path.display()))?
            .to_path_buf();
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .with_context(|| {
                    format!(
                        "creating {} for the IAM journal (run as root, or pass --state-dir with a directory you can write)",
                        dir.display()
                    )
                })?;
            self.created_dir = Some(dir.clone());
        }
        let bytes = serde_json::to_vec_pretty(self).context("serializing the IAM journal")?;
        let tmp = dir.join(format!(".{JOURNAL_FILE}.hakit-tmp"));
        let result = (|| -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            std::fs::File::open(&dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.with_context(|| format!("saving the IAM journal {}", self.path.display()))
    }

    /// Record an intent and persist it; returns its index.
    fn intend(&mut self, undo: IamUndo) -> anyhow::Result<usize> {
        self.entries.push(IamEntry {
            state: EntryState::Intent,
            undo,
        });
        self.save()?;
        Ok(self.entries.len() - 1)
    }

    fn done(&mut self, index: usize) -> anyhow::Result<()> {
        if let Some(entry) = self.entries.get_mut(index) {
            entry.state = EntryState::Done;
        }
        self.save()
    }

    /// An intent for `undo`, reusing one an interrupted run left behind.
    fn intend_once(&mut self, undo: IamUndo) -> anyhow::Result<usize> {
        match self.entries.iter().position(|e| e.undo == undo) {
            Some(i) => Ok(i),
            None => self.intend(undo),
        }
    }

    /// Make sure an entity that is hakit's (by its tag) is recorded as done, so rollback
    /// finds it even when it was created by an earlier run whose journal is gone.
    fn adopt(&mut self, undo: IamUndo) -> anyhow::Result<()> {
        match self.entries.iter().position(|e| e.undo == undo) {
            Some(i) if self.entries[i].state == EntryState::Done => Ok(()),
            Some(i) => self.done(i),
            None => {
                self.entries.push(IamEntry {
                    state: EntryState::Done,
                    undo,
                });
                self.save()
            }
        }
    }

    /// Drop an intent that turned out not to be ours to undo.
    fn forget(&mut self, index: usize) -> anyhow::Result<()> {
        if index < self.entries.len() && self.entries[index].state == EntryState::Intent {
            self.entries.remove(index);
            self.save()?;
        }
        Ok(())
    }
}

fn not_ours(kind: &str, name: &str, cluster: &str, tag: Option<&str>) -> anyhow::Error {
    let whose = match tag {
        Some(other) => format!("it is tagged {TAG_CLUSTER}={other}"),
        None => format!("it has no {TAG_CLUSTER} tag"),
    };
    anyhow::anyhow!(
        "{kind} {name} already exists and is not hakit's for cluster {cluster} ({whose}): hakit never adopts or changes it; delete or rename it, or rename the cluster"
    )
}

/// Create (or confirm) the role, its inline policy and the instance profile, reporting each
/// step through `progress`. Running it again changes nothing.
pub fn apply(
    iam: &dyn Iam,
    cluster: &Cluster,
    state_dir: &Path,
    progress: &mut dyn FnMut(&StepReport),
) -> anyhow::Result<Vec<StepReport>> {
    let mut journal = IamJournal::open(state_dir, &cluster.name)?;
    let names = Names::of(&cluster.name);
    let c = cluster.name.as_str();
    let document = crate::iam::policy(cluster);
    let steps: [(String, Step); 4] = [
        (
            format!(
                "create IAM role {} (trusted by ec2.amazonaws.com, tagged {TAG_CLUSTER}={c})",
                names.role
            ),
            Step::Role,
        ),
        (
            format!(
                "put inline policy {} on IAM role {} (`hakit iam policy`)",
                names.policy, names.role
            ),
            Step::Policy,
        ),
        (
            format!(
                "create instance profile {} (tagged {TAG_CLUSTER}={c})",
                names.profile
            ),
            Step::Profile,
        ),
        (
            format!(
                "add IAM role {} to instance profile {}",
                names.role, names.profile
            ),
            Step::AddRole,
        ),
    ];
    let mut reports = Vec::new();
    for (i, (text, step)) in steps.iter().enumerate() {
        let (status, note) = match step {
            Step::Role => role(iam, &mut journal, &names, c),
            Step::Policy => policy(iam, &mut journal, &names, &document),
            Step::Profile => profile(iam, &mut journal, &names, c),
            Step::AddRole => add_role(iam, &mut journal, &names, c),
        }
        .with_context(|| format!("step {}: {text}", i + 1))?;
        let report = StepReport {
            step: text.clone(),
            status,
            note,
        };
        progress(&report);
        reports.push(report);
    }
    Ok(reports)
}

enum Step {
    Role,
    Policy,
    Profile,
    AddRole,
}

type StepResult = anyhow::Result<(Status, Option<String>)>;

fn role(iam: &dyn Iam, journal: &mut IamJournal, names: &Names, cluster: &str) -> StepResult {
    let undo = IamUndo::DeleteRole {
        role: names.role.clone(),
    };
    if let Some(existing) = iam.role(&names.role)? {
        if existing.cluster.as_deref() != Some(cluster) {
            return Err(not_ours(
                "IAM role",
                &names.role,
                cluster,
                existing.cluster.as_deref(),
            ));
        }
        journal.adopt(undo)?;
        return Ok((Status::AlreadyDone, Some(existing.arn)));
    }
    let index = journal.intend_once(undo)?;
    let created = iam.create_role(&names.role, cluster)?;
    if created.cluster.as_deref() != Some(cluster) {
        // Someone else created it between our look and our create.
        journal.forget(index)?;
        return Err(not_ours(
            "IAM role",
            &names.role,
            cluster,
            created.cluster.as_deref(),
        ));
    }
    journal.done(index)?;
    Ok((Status::Applied, Some(created.arn)))
}

fn policy(
    iam: &dyn Iam,
    journal: &mut IamJournal,
    names: &Names,
    document: &serde_json::Value,
) -> StepResult {
    let undo = IamUndo::DeleteRolePolicy {
        role: names.role.clone(),
        policy: names.policy.clone(),
    };
    let current = iam.role_policy(&names.role, &names.policy)?;
    let same = current
        .as_deref()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .is_some_and(|v| &v == document);
    if same {
        journal.adopt(undo)?;
        return Ok((Status::AlreadyDone, None));
    }
    let index = journal.intend_once(undo)?;
    let text = serde_json::to_string(document).context("serializing the policy")?;
    iam.put_role_policy(&names.role, &names.policy, &text)?;
    journal.done(index)?;
    Ok((
        Status::Applied,
        current.map(|_| "updated: the cluster file changed since the last apply".into()),
    ))
}

fn profile(iam: &dyn Iam, journal: &mut IamJournal, names: &Names, cluster: &str) -> StepResult {
    let undo = IamUndo::DeleteInstanceProfile {
        profile: names.profile.clone(),
    };
    if let Some(existing) = iam.instance_profile(&names.profile)? {
        if existing.cluster.as_deref() != Some(cluster) {
            return Err(not_ours(
                "instance profile",
                &names.profile,
                cluster,
                existing.cluster.as_deref(),
            ));
        }
        journal.adopt(undo)?;
        return Ok((Status::AlreadyDone, Some(existing.arn)));
    }
    let index = journal.intend_once(undo)?;
    let created = iam.create_instance_profile(&names.profile, cluster)?;
    if created.cluster.as_deref() != Some(cluster) {
        journal.forget(index)?;
        return Err(not_ours(
            "instance profile",
            &names.profile,
            cluster,
            created.cluster.as_deref(),
        ));
    }
    journal.done(index)?;
    Ok((Status::Applied, Some(created.arn)))
}

fn add_role(iam: &dyn Iam, journal: &mut IamJournal, names: &Names, cluster: &str) -> StepResult {
    let undo = IamUndo::RemoveRoleFromInstanceProfile {
        profile: names.profile.clone(),
        role: names.role.clone(),
    };
    let profile = iam
        .instance_profile(&names.profile)?
        .with_context(|| format!("instance profile {} is missing", names.profile))?;
    if profile.cluster.as_deref() != Some(cluster) {
        return Err(not_ours(
            "instance profile",
            &names.profile,
            cluster,
            profile.cluster.as_deref(),
        ));
    }
    if profile.roles.iter().any(|r| r == &names.role) {
        journal.adopt(undo)?;
        return Ok((Status::AlreadyDone, None));
    }
    if let Some(other) = profile.roles.first() {
        bail!(
            "instance profile {} already holds IAM role {other} (a profile holds one role): remove it with `aws iam remove-role-from-instance-profile --instance-profile-name {} --role-name {other}`",
            names.profile,
            names.profile
        );
    }
    let index = journal.intend_once(undo)?;
    iam.add_role_to_instance_profile(&names.profile, &names.role)?;
    journal.done(index)?;
    Ok((Status::Applied, None))
}

/// Undo the IAM journal in `state_dir`, newest change first. Without a journal there is
/// nothing to undo (a second rollback is a no-op). An undo that fails is reported and the
/// rest still runs; what could not be undone stays in the journal.
pub fn rollback(iam: Option<&dyn Iam>, state_dir: &Path) -> anyhow::Result<RollbackReport> {
    let path = IamJournal::path_in(state_dir);
    let mut report = RollbackReport::default();
    let Some(mut journal) = IamJournal::load(&path)? else {
        return Ok(report);
    };
    let mut i = journal.entries.len();
    while i > 0 {
        i -= 1;
        let entry = journal.entries[i].clone();
        let what = entry.undo.describe();
        let result = match iam {
            Some(iam) => undo(iam, &journal.cluster, &entry.undo),
            None => Err(anyhow::anyhow!(
                "needs IAM access (run `hakit iam rollback` with credentials that may manage IAM roles)"
            )),
        };
        match result {
            Ok(()) => {
                report.undone.push(what);
                journal.entries.remove(i);
                journal.save()?;
            }
            Err(err) => report.remaining.push(format!("{what}: {err:#}")),
        }
    }
    if report.remaining.is_empty() {
        std::fs::remove_file(&journal.path)
            .with_context(|| format!("removing {}", journal.path.display()))?;
        if let Some(dir) = &journal.created_dir {
            // Only if nothing else lives there (a node's own journal, for one).
            let _ = std::fs::remove_dir(dir);
        }
    }
    Ok(report)
}

/// Whether `tag` says the entity is this cluster's; refuses to touch anything else.
fn check_ours(kind: &str, name: &str, cluster: &str, tag: Option<&str>) -> anyhow::Result<()> {
    if tag == Some(cluster) {
        Ok(())
    } else {
        Err(not_ours(kind, name, cluster, tag)).context("left in place")
    }
}

fn undo(iam: &dyn Iam, cluster: &str, undo: &IamUndo) -> anyhow::Result<()> {
    match undo {
        IamUndo::RemoveRoleFromInstanceProfile { profile, role } => {
            let Some(p) = iam.instance_profile(profile)? else {
                return Ok(());
            };
            check_ours("instance profile", profile, cluster, p.cluster.as_deref())?;
            if p.roles.iter().any(|r| r == role) {
                iam.remove_role_from_instance_profile(profile, role)?;
            }
            Ok(())
        }
        IamUndo::DeleteInstanceProfile { profile } => {
            let Some(p) = iam.instance_profile(profile)? else {
                return Ok(());
            };
            check_ours("instance profile", profile, cluster, p.cluster.as_deref())?;
            let ours = Names::of(cluster).role;
            for role in &p.roles {
                if role != &ours {
                    bail!("instance profile {profile} holds IAM role {role}, which hakit did not put there: remove it first (`aws iam remove-role-from-instance-profile`), then run `hakit iam rollback` again");
                }
                iam.remove_role_from_instance_profile(profile, role)?;
            }
            Ok(iam.delete_instance_profile(profile)?)
        }
        IamUndo::DeleteRolePolicy { role, policy } => {
            let Some(r) = iam.role(role)? else {
                return Ok(());
            };
            check_ours("IAM role", role, cluster, r.cluster.as_deref())?;
            Ok(iam.delete_role_policy(role, policy)?)
        }
        IamUndo::DeleteRole { role } => {
            let Some(r) = iam.role(role)? else {
                return Ok(());
            };
            check_ours("IAM role", role, cluster, r.cluster.as_deref())?;
            Ok(iam.delete_role(role)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_iam_limits_for_the_longest_cluster_name() {
        let names = Names::of(&"a".repeat(32));
        assert!(names.role.len() <= 64 && names.profile.len() <= 128);
        assert!(names.policy.len() <= 128);
    }

    #[test]
    fn journal_entries_round_trip_as_tagged_json() {
        let entry = IamEntry {
            state: EntryState::Intent,
            undo: IamUndo::RemoveRoleFromInstanceProfile {
                profile: "hakit-x".into(),
                role: "hakit-x".into(),
            },
        };
        let text = serde_json::to_string(&entry).expect("json");
        assert_eq!(
            text,
            r#"{"state":"intent","undo":"remove-role-from-instance-profile","profile":"hakit-x","role":"hakit-x"}"#
        );
        assert_eq!(
            serde_json::from_str::<IamEntry>(&text).expect("parse"),
            entry
        );
    }
}
