//! The cloud operations hakit needs, as a trait: the real implementation talks to EC2
//! ([`crate::Ec2Cloud`]); tests run that same implementation against an EC2 emulator.

use crate::error::CloudError;
use serde::{Deserialize, Serialize};

pub const TAG_CLUSTER: &str = "hakit:cluster";
pub const TAG_NODE: &str = "hakit:node";
pub const TAG_RUN: &str = "hakit:run";
/// The VRRP state the node last reported through `hakit notify`.
pub const TAG_STATE: &str = "hakit:state";

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
    /// Ask EC2 with DryRun whether this identity may call `action`; `Ok(true)` when allowed.
    fn may(
        &self,
        action: Action,
        allocation_id: &str,
        instance_id: &str,
    ) -> Result<bool, CloudError>;
}

/// The EC2 actions setup and notify need, checked by `hakit plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    DescribeNetworkInterfaces,
    DescribeAddresses,
    DescribeInstances,
    AssociateAddress,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::DescribeNetworkInterfaces,
        Action::DescribeAddresses,
        Action::DescribeInstances,
        Action::AssociateAddress,
    ];

    pub fn iam_name(self) -> &'static str {
        match self {
            Action::DescribeNetworkInterfaces => "ec2:DescribeNetworkInterfaces",
            Action::DescribeAddresses => "ec2:DescribeAddresses",
            Action::DescribeInstances => "ec2:DescribeInstances",
            Action::AssociateAddress => "ec2:AssociateAddress",
        }
    }
}
