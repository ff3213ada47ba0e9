//! The IAM journal's change records, each described and undone side by side, and
//! `hakit iam rollback`: the journal unwound newest first. Only entities tagged
//! `hakit:cluster` with this cluster are ever changed or deleted.

use super::{not_ours, Names};
use crate::host::Host;
use crate::journal::{Change, RollbackReport};
use anyhow::{bail, Context};
use hakit_cloud::Iam;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How to undo one IAM change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "kebab-case")]
pub enum IamUndo {
    DeleteRole { role: String },
    DeleteRolePolicy { role: String, policy: String },
    DeleteInstanceProfile { profile: String },
    RemoveRoleFromInstanceProfile { profile: String, role: String },
}

impl Change for IamUndo {
    fn describe(&self) -> String {
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

impl IamUndo {
    /// Undo this change, touching only entities tagged with `cluster`.
    pub fn run(&self, iam: &dyn Iam, cluster: &str) -> anyhow::Result<()> {
        match self {
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
}

/// Undo the IAM journal in `state_dir`, newest change first. Without a journal there is
/// nothing to undo (a second rollback is a no-op). An undo that fails is reported and the
/// rest still runs; what could not be undone stays in the journal.
pub fn rollback(
    host: &dyn Host,
    iam: Option<&dyn Iam>,
    state_dir: &Path,
) -> anyhow::Result<RollbackReport> {
    let Some(mut journal) = super::load_journal(host, state_dir)? else {
        return Ok(RollbackReport::default());
    };
    let cluster = journal.meta.cluster.clone();
    let report = journal.unwind(host, |entry| match iam {
        Some(iam) => entry.undo.run(iam, &cluster),
        None => Err(anyhow::anyhow!(
            "needs IAM access (run `hakit iam rollback` with credentials that may manage IAM roles)"
        )),
    })?;
    if report.remaining.is_empty() {
        if let Some(dir) = &journal.meta.created_dir {
            // Only if nothing else lives there (a node's own journal, for one).
            host.remove_dir_if_empty(dir)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Entry, EntryState};

    #[test]
    fn journal_entries_round_trip_as_tagged_json() {
        let entry = Entry {
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
            serde_json::from_str::<Entry<IamUndo>>(&text).expect("parse"),
            entry
        );
    }
}
