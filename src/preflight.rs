//! `hakit plan --preflight`: ask EC2 with DryRun whether this identity may call each
//! action setup, notify and rollback need, naming this node's own resources where they
//! exist (its subnet, its ENI once setup made it, the cluster's Elastic IP) and
//! placeholders otherwise; each verdict with the fix.

use crate::config::{Cluster, Mode};
use hakit_cloud::{Action, Cloud, NodeFacts, Probe};
use serde::Serialize;
use std::path::Path;

/// What EC2's DryRun said about one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// `DryRunOperation`: the call would have been allowed.
    Allowed,
    /// `UnauthorizedOperation`: the identity lacks the permission.
    Denied,
    /// Any other answer (a placeholder resource not found, a network error): no verdict.
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct Permission {
    /// The IAM action, e.g. `ec2:AttachNetworkInterface`.
    pub action: String,
    /// True only for [`Verdict::Allowed`].
    pub allowed: bool,
    pub verdict: Verdict,
    /// Which hakit command needs it, and for what.
    pub used_for: String,
    /// Why there is no verdict (EC2's answer), for [`Verdict::Unknown`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do, for a denied or unknown action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The verdict for every action in [`Action::ALL`]. `facts` (from IMDS) gives the subnet
/// and the instance id where the cluster file has none; `config` is named in the fixes.
pub fn check(
    cloud: &dyn Cloud,
    cluster: &Cluster,
    node: &str,
    facts: Option<&NodeFacts>,
    config: &Path,
) -> Vec<Permission> {
    let Mode::AwsEip(aws) = &cluster.mode else {
        return vec![];
    };
    let instance = cluster
        .nodes
        .iter()
        .find(|n| n.name == node)
        .and_then(|n| n.instance_id.clone())
        .or_else(|| facts.map(|f| f.instance_id.clone()))
        .unwrap_or_default();
    // This node's ENI, if setup made it already (a denied describe shows up below).
    let eni = cloud
        .find_enis(&cluster.name, Some(node))
        .ok()
        .and_then(|enis| enis.into_iter().next());
    let association = cloud
        .address(&aws.eip_allocation_id)
        .ok()
        .and_then(|a| a.association_id);
    let probe = Probe {
        cluster: cluster.name.clone(),
        node: node.to_string(),
        allocation_id: aws.eip_allocation_id.clone(),
        instance_id: instance,
        subnet_id: facts.map(|f| f.subnet_id.clone()),
        security_group_ids: if aws.security_group_ids.is_empty() {
            facts
                .map(|f| f.security_group_ids.clone())
                .unwrap_or_default()
        } else {
            aws.security_group_ids.clone()
        },
        attachment_id: eni
            .as_ref()
            .and_then(|e| e.attachment.as_ref())
            .map(|a| a.id.clone()),
        eni_id: eni.map(|e| e.id),
        association_id: association,
    };
    let config = config.display();
    Action::ALL
        .iter()
        .map(|&action| {
            let name = action.iam_name();
            let (verdict, error) = match cloud.may(action, &probe) {
                Ok(true) => (Verdict::Allowed, None),
                Ok(false) => (Verdict::Denied, None),
                Err(e) => (Verdict::Unknown, Some(e.to_string())),
            };
            let fix = match verdict {
                Verdict::Allowed => None,
                Verdict::Denied => Some(format!(
                    "give the instance role {name}: `hakit iam policy --config {config}` prints the policy it needs, `hakit iam apply --config {config}` creates a role with it"
                )),
                Verdict::Unknown if probe.uses_placeholder(action) => Some(format!(
                    "EC2 gave no verdict for a placeholder resource (this node's ENI, subnet or association does not exist yet): run `hakit plan --preflight` again after setup, and check that the role has the policy from `hakit iam policy --config {config}`"
                )),
                Verdict::Unknown => Some(format!(
                    "check that the instance role has {name} as in `hakit iam policy --config {config}`, and run `hakit plan --preflight` again"
                )),
            };
            Permission {
                action: name.into(),
                allowed: verdict == Verdict::Allowed,
                verdict,
                used_for: action.used_for().into(),
                error,
                fix,
            }
        })
        .collect()
}
