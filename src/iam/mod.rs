//! The cluster's IAM side: `hakit iam policy`, `hakit iam apply` and `hakit iam rollback`: the cluster's instance role (trusted by EC2),
//! its inline policy (`hakit iam policy`) and the instance profile carrying it, created
//! through a write-ahead journal of their own and undone from it in reverse.
//!
//! The role is per cluster and shared by both nodes, and usually created from an admin
//! machine, so its journal is a separate file (`iam-journal.json` in the state dir): a
//! node's `hakit rollback` never reads it and never deletes the role. Only entities tagged
//! `hakit:cluster` with this cluster are ever changed or deleted; a same-named entity that
//! is not hakit's is reported, never adopted.

mod apply;
mod policy;
mod undo;

pub use apply::apply;
pub use policy::policy;
pub use undo::{rollback, IamUndo};

use crate::host::Host;
use crate::journal::{layout, Journal, Meta, StoreOwner};
use anyhow::bail;
use hakit_cloud::TAG_CLUSTER;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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

/// The IAM journal's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamMeta {
    pub cluster: String,
    /// The state dir, when `iam apply` created it: removed again if empty after rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_dir: Option<PathBuf>,
}

impl Meta for IamMeta {
    const WHAT: &'static str = "IAM journal";

    fn created_dir(&mut self, dir: &Path) {
        self.created_dir = Some(dir.to_path_buf());
    }
}

/// The IAM journal: written by whoever runs `iam apply` (mode 0600, not necessarily root:
/// an admin machine), in `<state_dir>/iam-journal.json`.
pub type IamJournal = Journal<IamMeta, IamUndo>;

/// The IAM journal in `state_dir`, if any.
pub fn load_journal(host: &dyn Host, state_dir: &Path) -> anyhow::Result<Option<IamJournal>> {
    IamJournal::load(
        host,
        &layout::iam_journal(state_dir),
        StoreOwner::CurrentUser,
    )
}

/// The journal in `state_dir`, or a new one (not yet written).
fn open_journal(host: &dyn Host, state_dir: &Path, cluster: &str) -> anyhow::Result<IamJournal> {
    let journal = match load_journal(host, state_dir)? {
        Some(journal) => journal,
        None => IamJournal::new(
            layout::iam_journal(state_dir),
            IamMeta {
                cluster: cluster.to_string(),
                created_dir: None,
            },
            StoreOwner::CurrentUser,
        ),
    };
    if journal.meta.cluster != cluster {
        bail!(
            "{} belongs to cluster {}, not {cluster}: use the state dir of this cluster (--state-dir)",
            journal.path.display(),
            journal.meta.cluster
        );
    }
    Ok(journal)
}

pub(crate) fn not_ours(kind: &str, name: &str, cluster: &str, tag: Option<&str>) -> anyhow::Error {
    let whose = match tag {
        Some(other) => format!("it is tagged {TAG_CLUSTER}={other}"),
        None => format!("it has no {TAG_CLUSTER} tag"),
    };
    anyhow::anyhow!(
        "{kind} {name} already exists and is not hakit's for cluster {cluster} ({whose}): hakit never adopts or changes it; delete or rename it, or rename the cluster"
    )
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
}
