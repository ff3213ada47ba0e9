//! hakit's AWS side, kept in its own crate so that editing the rest of hakit does not
//! recompile the SDK-facing code: node facts from IMDSv2, the dedicated ENI and the
//! Elastic IP through aws-sdk-ec2, behind the [`Cloud`] trait; the cluster's instance role
//! through aws-sdk-iam, behind the [`Iam`] trait.

mod cloud;
mod connect;
mod ec2;
mod error;
mod fake;
mod iam;
mod imds;

pub use cloud::{
    parse_state_tag, pick_own_eni, state_tag, Action, Address, Attachment, Cloud, Eni, NewEni,
    Probe, TAG_CLUSTER, TAG_NODE, TAG_RUN, TAG_STATE,
};
pub use connect::{Endpoint, Limits};
pub use ec2::Ec2Cloud;
pub use error::CloudError;
pub use fake::FakeCloud;
pub use iam::{decode_policy_document, Iam, IamCloud, IamRole, InstanceProfile, EC2_TRUST_POLICY};
pub use imds::{Imds, NodeFacts, DEFAULT_ENDPOINT};

pub use aws_config as sdk_config;
/// The SDK, re-exported for tests that prepare the emulator (VPCs, instances, addresses).
pub use aws_sdk_ec2 as sdk;
/// The IAM SDK, re-exported for tests that inspect or prepare IAM in the emulator.
pub use aws_sdk_iam as iam_sdk;
