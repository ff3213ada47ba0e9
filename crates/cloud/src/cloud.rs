//! The cloud operations hakit needs, as a trait: the real implementation talks to EC2
//! ([`crate::Ec2Cloud`]); tests run that same implementation against an EC2 emulator.

use crate::error::CloudError;
use serde::{Deserialize, Serialize};

pub const TAG_CLUSTER: &str = "hakit:cluster";
pub const TAG_NODE: &str = "hakit:node";
pub const TAG_RUN: &str = "hakit:run";
/// The VRRP state the node last reported through `hakit notify`, and when: `master@<unix
/// seconds>` (see [`state_tag`]). A dead node never clears its report; the time lets the
/// survivor tell a stale report from a live split brain.
pub const TAG_STATE: &str = "hakit:state";

/// The `hakit:state` value for `state` reported at `at` (unix seconds).
pub fn state_tag(state: &str, at: u64) -> String {
    format!("{state}@{at}")
}

/// A `hakit:state` value read back: the state, and when it was reported (`None` for a
/// value without a time, as hakit 0.1.0 wrote them).
pub fn parse_state_tag(value: &str) -> (String, Option<u64>) {
    match value.split_once('@') {
        Some((state, at)) => (state.to_string(), at.parse().ok()),
        None => (value.to_string(), None),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub instance_id: Option<String>,
    pub device_index: Option<i32>,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eni {
    pub id: String,
    /// The `hakit:node` tag.
    pub node: Option<String>,
    /// The `hakit:state` tag: the VRRP state this node last reported.
    pub state: Option<String>,
    /// When it reported it (unix seconds), if the tag says.
    pub state_at: Option<u64>,
    pub mac: Option<String>,
    pub private_ip: Option<String>,
    pub subnet_id: Option<String>,
    pub attachment: Option<Attachment>,
}

/// An Elastic IP and where it is associated now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub allocation_id: String,
    pub public_ip: Option<String>,
    pub association_id: Option<String>,
    pub network_interface_id: Option<String>,
}

/// A dedicated ENI to create, tagged so a half-done create can be found again.
#[derive(Debug, Clone)]
pub struct NewEni {
    pub cluster: String,
    pub node: String,
    pub run: String,
    pub subnet_id: String,
    pub security_group_ids: Vec<String>,
    /// Idempotency token: a retried create returns the same ENI.
    pub client_token: String,
}

pub trait Cloud {
    /// hakit's ENIs of `cluster` (and `node`), found by tag.
    fn find_enis(&self, cluster: &str, node: Option<&str>) -> Result<Vec<Eni>, CloudError>;
    fn create_eni(&self, req: &NewEni) -> Result<Eni, CloudError>;
    /// Attach at the first free device index and wait until attached.
    fn attach_eni(&self, eni_id: &str, instance_id: &str) -> Result<Attachment, CloudError>;
    /// Detach and wait until detached. A missing ENI or attachment is already detached.
    fn detach_eni(&self, eni_id: &str) -> Result<(), CloudError>;
    /// Delete, waiting for a detach still in progress. A missing ENI is already deleted.
    fn delete_eni(&self, eni_id: &str) -> Result<(), CloudError>;
    fn set_source_dest_check(&self, eni_id: &str, enabled: bool) -> Result<(), CloudError>;
    fn address(&self, allocation_id: &str) -> Result<Address, CloudError>;
    /// Associate with reassociation allowed, then read back until EC2 shows it on `eni_id`.
    fn associate_eip(&self, allocation_id: &str, eni_id: &str) -> Result<Address, CloudError>;
    /// Elastic IPs currently associated with an ENI.
    fn addresses_on(&self, eni_id: &str) -> Result<Vec<Address>, CloudError>;
    /// Disassociate (never release). A missing association is already gone.
    fn disassociate_eip(&self, association_id: &str) -> Result<(), CloudError>;
    /// Set one tag on an ENI (hakit's own; used for `hakit:state`).
    fn tag_eni(&self, eni_id: &str, key: &str, value: &str) -> Result<(), CloudError>;
    /// Ask EC2 with DryRun whether this identity may call `action` on the resources in
    /// `probe`: `Ok(true)` when EC2 answers `DryRunOperation` (allowed), `Ok(false)` on
    /// `UnauthorizedOperation` (denied), and any other answer as an error (unknown).
    fn may(&self, action: Action, probe: &Probe) -> Result<bool, CloudError>;

    /// This node's dedicated ENI, found by its tags (see [`pick_own_eni`]).
    fn own_eni(&self, cluster: &str, node: &str) -> Result<Eni, CloudError> {
        pick_own_eni(&self.find_enis(cluster, Some(node))?, cluster, node)
    }
}

/// The one ENI of `node` among `enis` (the attached one if a half-done setup left several).
pub fn pick_own_eni(enis: &[Eni], cluster: &str, node: &str) -> Result<Eni, CloudError> {
    let mine: Vec<&Eni> = enis
        .iter()
        .filter(|e| e.node.as_deref() == Some(node))
        .collect();
    let attached: Vec<&Eni> = mine
        .iter()
        .copied()
        .filter(|e| e.attachment.is_some())
        .collect();
    let problem = |message: String| {
        Err(CloudError::new(
            format!("finding {node}'s ENI"),
            None,
            message,
        ))
    };
    match (mine.as_slice(), attached.as_slice()) {
        ([], _) => problem(format!("no hakit ENI tagged {TAG_CLUSTER}={cluster}, {TAG_NODE}={node}: run `hakit setup` on this node first")),
        ([one], _) | (_, [one]) => Ok((*one).clone()),
        _ => problem(format!(
            "{} ENIs are tagged for node {node} ({}): run `hakit rollback` and `hakit setup` on this node",
            mine.len(),
            mine.iter().map(|e| e.id.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The resources a DryRun check names, as setup and notify would: this node's own where
/// they exist, otherwise syntactically valid placeholders (see [`Probe::PLACEHOLDER_ENI`]),
/// to which EC2 may answer NotFound rather than with a verdict.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub cluster: String,
    pub node: String,
    pub allocation_id: String,
    pub instance_id: String,
    /// The node's subnet (from IMDS); a placeholder when unknown.
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    /// The node's dedicated ENI, once setup created it.
    pub eni_id: Option<String>,
    /// Its attachment, once attached.
    pub attachment_id: Option<String>,
    /// The Elastic IP's current association, if any.
    pub association_id: Option<String>,
}

impl Probe {
    pub const PLACEHOLDER_SUBNET: &'static str = "subnet-00000000000000000";
    pub const PLACEHOLDER_ENI: &'static str = "eni-00000000000000000";
    pub const PLACEHOLDER_ATTACHMENT: &'static str = "eni-attach-00000000000000000";
    pub const PLACEHOLDER_ASSOCIATION: &'static str = "eipassoc-00000000000000000";

    pub fn subnet(&self) -> &str {
        self.subnet_id
            .as_deref()
            .unwrap_or(Self::PLACEHOLDER_SUBNET)
    }

    pub fn eni(&self) -> &str {
        self.eni_id.as_deref().unwrap_or(Self::PLACEHOLDER_ENI)
    }

    pub fn attachment(&self) -> &str {
        self.attachment_id
            .as_deref()
            .unwrap_or(Self::PLACEHOLDER_ATTACHMENT)
    }

    pub fn association(&self) -> &str {
        self.association_id
            .as_deref()
            .unwrap_or(Self::PLACEHOLDER_ASSOCIATION)
    }

    /// Whether checking `action` names a placeholder instead of a real resource.
    pub fn uses_placeholder(&self, action: Action) -> bool {
        match action {
            Action::CreateNetworkInterface => self.subnet_id.is_none(),
            Action::AttachNetworkInterface
            | Action::DeleteNetworkInterface
            | Action::ModifyNetworkInterfaceAttribute
            | Action::CreateTags
            | Action::AssociateAddress => self.eni_id.is_none(),
            Action::DetachNetworkInterface => self.attachment_id.is_none(),
            Action::DisassociateAddress => self.association_id.is_none(),
            Action::DescribeNetworkInterfaces
            | Action::DescribeAddresses
            | Action::DescribeInstances => false,
        }
    }
}

/// The EC2 actions setup, notify and rollback need, checked by `hakit plan --preflight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    DescribeNetworkInterfaces,
    DescribeAddresses,
    DescribeInstances,
    CreateNetworkInterface,
    AttachNetworkInterface,
    ModifyNetworkInterfaceAttribute,
    CreateTags,
    AssociateAddress,
    DisassociateAddress,
    DetachNetworkInterface,
    DeleteNetworkInterface,
}

impl Action {
    /// In the order setup, notify and rollback use them.
    pub const ALL: [Action; 11] = [
        Action::DescribeNetworkInterfaces,
        Action::DescribeAddresses,
        Action::DescribeInstances,
        Action::CreateNetworkInterface,
        Action::AttachNetworkInterface,
        Action::ModifyNetworkInterfaceAttribute,
        Action::CreateTags,
        Action::AssociateAddress,
        Action::DisassociateAddress,
        Action::DetachNetworkInterface,
        Action::DeleteNetworkInterface,
    ];

    pub fn iam_name(self) -> &'static str {
        match self {
            Action::DescribeNetworkInterfaces => "ec2:DescribeNetworkInterfaces",
            Action::DescribeAddresses => "ec2:DescribeAddresses",
            Action::DescribeInstances => "ec2:DescribeInstances",
            Action::CreateNetworkInterface => "ec2:CreateNetworkInterface",
            Action::AttachNetworkInterface => "ec2:AttachNetworkInterface",
            Action::ModifyNetworkInterfaceAttribute => "ec2:ModifyNetworkInterfaceAttribute",
            Action::CreateTags => "ec2:CreateTags",
            Action::AssociateAddress => "ec2:AssociateAddress",
            Action::DisassociateAddress => "ec2:DisassociateAddress",
            Action::DetachNetworkInterface => "ec2:DetachNetworkInterface",
            Action::DeleteNetworkInterface => "ec2:DeleteNetworkInterface",
        }
    }

    /// What hakit uses it for.
    pub fn used_for(self) -> &'static str {
        match self {
            Action::DescribeNetworkInterfaces => "setup, notify, status: find the cluster's ENIs",
            Action::DescribeAddresses => "notify, status: read where the Elastic IP is",
            Action::DescribeInstances => "setup: pick a free device index",
            Action::CreateNetworkInterface => "setup: create the dedicated ENI, tagged",
            Action::AttachNetworkInterface => "setup: attach the ENI to this instance",
            Action::ModifyNetworkInterfaceAttribute => {
                "setup: turn off source/dest check (aws.source_dest_check = false)"
            }
            Action::CreateTags => "notify: report the VRRP state on the ENI (hakit:state)",
            Action::AssociateAddress => "setup, notify: move the Elastic IP to this ENI",
            Action::DisassociateAddress => "rollback: take the Elastic IP off this ENI",
            Action::DetachNetworkInterface => "rollback: detach the ENI",
            Action::DeleteNetworkInterface => "rollback: delete the ENI",
        }
    }
}

#[cfg(test)]
mod state_tag_tests {
    use super::*;

    #[test]
    fn a_state_tag_reads_back_as_written_and_an_old_one_has_no_time() {
        assert_eq!(
            parse_state_tag(&state_tag("master", 1_764_264_000)),
            ("master".to_string(), Some(1_764_264_000))
        );
        assert_eq!(parse_state_tag("backup"), ("backup".to_string(), None));
    }
}
