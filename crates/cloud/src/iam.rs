//! The cluster's instance role through aws-sdk-iam: the role (trusted by EC2), its inline
//! policy, and the instance profile that carries it to the instances. Built like
//! [`crate::Ec2Cloud`]: the same region, endpoint and credential handling and the SDK's
//! standard retry mode. Every call says which `iam:` action it needs, so an `AccessDenied`
//! names what is missing.

use crate::connect::{load_config, sdk_err, Endpoint, Limits};
use crate::error::CloudError;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client;

/// The trust policy of hakit's role: only EC2 instances may assume it.
pub const EC2_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// IAM's own partition-wide endpoint is signed for us-east-1 when no region is configured
/// (IAM is global; an admin machine often has no region set).
const FALLBACK_REGION: &str = "us-east-1";

/// An IAM role as hakit sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamRole {
    pub name: String,
    pub arn: String,
    /// The `hakit:cluster` tag: `None` when the role is not hakit's.
    pub cluster: Option<String>,
}

/// An instance profile as hakit sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceProfile {
    pub name: String,
    pub arn: String,
    /// The `hakit:cluster` tag: `None` when the profile is not hakit's.
    pub cluster: Option<String>,
    /// The names of the roles in it (IAM allows at most one).
    pub roles: Vec<String>,
}

/// The IAM operations `hakit iam apply` and `hakit iam rollback` need. Getters return `None`
/// for a missing entity; creates return the existing entity when it is already there
/// (`EntityAlreadyExists`), so the caller decides whether it is hakit's; removes and deletes
/// of something missing succeed (already undone).
pub trait Iam {
    fn role(&self, name: &str) -> Result<Option<IamRole>, CloudError>;
    /// Create `name` with [`EC2_TRUST_POLICY`], tagged `hakit:cluster = cluster`.
    fn create_role(&self, name: &str, cluster: &str) -> Result<IamRole, CloudError>;
    /// The inline policy's document (decoded JSON text), if the role has it.
    fn role_policy(&self, role: &str, policy: &str) -> Result<Option<String>, CloudError>;
    fn put_role_policy(&self, role: &str, policy: &str, document: &str) -> Result<(), CloudError>;
    fn instance_profile(&self, name: &str) -> Result<Option<InstanceProfile>, CloudError>;
    /// Create `name`, tagged `hakit:cluster = cluster`.
    fn create_instance_profile(
        &self,
        name: &str,
        cluster: &str,
    ) -> Result<InstanceProfile, CloudError>;
    fn add_role_to_instance_profile(&self, profile: &str, role: &str) -> Result<(), CloudError>;
    fn remove_role_from_instance_profile(
        &self,
        profile: &str,
        role: &str,
    ) -> Result<(), CloudError>;
    fn delete_instance_profile(&self, name: &str) -> Result<(), CloudError>;
    fn delete_role_policy(&self, role: &str, policy: &str) -> Result<(), CloudError>;
    fn delete_role(&self, name: &str) -> Result<(), CloudError>;
}

pub struct IamCloud {
    rt: tokio::runtime::Runtime,
    client: Client,
    limits: Limits,
}

/// The error of one IAM call, its op naming the `iam:` action so that `AccessDenied` says
/// which permission is missing.
fn iam_err<E, R>(op: &str, action: &str, err: SdkError<E, R>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    sdk_err(&format!("{op} ({action})"), err)
}

/// A missing entity is `Ok(None)`.
fn found<T>(result: Result<T, CloudError>) -> Result<Option<T>, CloudError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// A missing entity is already gone.
fn gone(result: Result<(), CloudError>) -> Result<(), CloudError> {
    found(result).map(|_| ())
}

fn cluster_tag(tags: &[Tag]) -> Option<String> {
    tags.iter()
        .find(|t| t.key() == crate::TAG_CLUSTER)
        .map(|t| t.value().to_string())
}

fn tag(op: &str, cluster: &str) -> Result<Tag, CloudError> {
    Tag::builder()
        .key(crate::TAG_CLUSTER)
        .value(cluster)
        .build()
        .map_err(|e| CloudError::new(op, None, e.to_string()))
}

fn profile_from(p: &aws_sdk_iam::types::InstanceProfile) -> InstanceProfile {
    InstanceProfile {
        name: p.instance_profile_name().to_string(),
        arn: p.arn().to_string(),
        cluster: cluster_tag(p.tags()),
        roles: p
            .roles()
            .iter()
            .map(|r| r.role_name().to_string())
            .collect(),
    }
}

fn role_from(r: &aws_sdk_iam::types::Role) -> IamRole {
    IamRole {
        name: r.role_name().to_string(),
        arn: r.arn().to_string(),
        cluster: cluster_tag(r.tags()),
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986); some emulators send them as is.
pub fn decode_policy_document(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(value as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl IamCloud {
    /// A client for `endpoint`. The region picks the partition; without one (and none in
    /// the default chain) IAM is addressed through us-east-1, as the AWS CLI does.
    pub fn connect(endpoint: &Endpoint, limits: Limits) -> Result<Self, CloudError> {
        let (rt, mut config) = load_config(endpoint, &limits)?;
        if config.region().is_none() {
            config = config
                .into_builder()
                .region(aws_config::Region::new(FALLBACK_REGION))
                .build();
        }
        Ok(IamCloud {
            rt,
            client: Client::new(&config),
            limits,
        })
    }

    /// Retry `call` while IAM says the entity is missing, for a bounded time: IAM is
    /// eventually consistent, and a role created a moment ago may not be visible yet.
    fn settle(&self, mut call: impl FnMut() -> Result<(), CloudError>) -> Result<(), CloudError> {
        let mut attempt = 0;
        loop {
            match call() {
                Err(e) if e.is_not_found() && attempt + 1 < self.limits.poll_attempts => {
                    attempt += 1;
                    std::thread::sleep(self.limits.poll_interval);
                }
                other => return other,
            }
        }
    }
}

impl Iam for IamCloud {
    fn role(&self, name: &str) -> Result<Option<IamRole>, CloudError> {
        let op = format!("reading IAM role {name}");
        let out = found(
            self.rt
                .block_on(self.client.get_role().role_name(name).send())
                .map_err(|e| iam_err(&op, "iam:GetRole", e)),
        )?;
        Ok(out.and_then(|o| o.role().map(role_from)))
    }

    fn create_role(&self, name: &str, cluster: &str) -> Result<IamRole, CloudError> {
        let op = format!("creating IAM role {name}");
        let result = self.rt.block_on(
            self.client
                .create_role()
                .role_name(name)
                .assume_role_policy_document(EC2_TRUST_POLICY)
                .description(format!(
                    "hakit: instance role of cluster {cluster} (created by `hakit iam apply`)"
                ))
                .tags(tag(&op, cluster)?)
                .send(),
        );
        match result {
            Ok(out) => out
                .role()
                .map(role_from)
                .ok_or_else(|| CloudError::new(&op, None, "IAM returned no role")),
            Err(e) => {
                let e = iam_err(&op, "iam:CreateRole and iam:TagRole", e);
                if e.is_code("EntityAlreadyExists") {
                    // Created meanwhile (a retried call, or someone else): the caller checks
                    // whose it is.
                    self.role(name)?.ok_or(e)
                } else {
                    Err(e)
                }
            }
        }
    }

    fn role_policy(&self, role: &str, policy: &str) -> Result<Option<String>, CloudError> {
        let op = format!("reading inline policy {policy} of IAM role {role}");
        let out = found(
            self.rt
                .block_on(
                    self.client
                        .get_role_policy()
                        .role_name(role)
                        .policy_name(policy)
                        .send(),
                )
                .map_err(|e| iam_err(&op, "iam:GetRolePolicy", e)),
        )?;
        Ok(out.map(|o| decode_policy_document(o.policy_document())))
    }

    fn put_role_policy(&self, role: &str, policy: &str, document: &str) -> Result<(), CloudError> {
        let op = format!("putting inline policy {policy} on IAM role {role}");
        self.settle(|| {
            self.rt
                .block_on(
                    self.client
                        .put_role_policy()
                        .role_name(role)
                        .policy_name(policy)
                        .policy_document(document)
                        .send(),
                )
                .map(|_| ())
                .map_err(|e| iam_err(&op, "iam:PutRolePolicy", e))
        })
    }

    fn instance_profile(&self, name: &str) -> Result<Option<InstanceProfile>, CloudError> {
        let op = format!("reading instance profile {name}");
        let out = found(
            self.rt
                .block_on(
                    self.client
                        .get_instance_profile()
                        .instance_profile_name(name)
                        .send(),
                )
                .map_err(|e| iam_err(&op, "iam:GetInstanceProfile", e)),
        )?;
        Ok(out.and_then(|o| o.instance_profile().map(profile_from)))
    }

    fn create_instance_profile(
        &self,
        name: &str,
        cluster: &str,
    ) -> Result<InstanceProfile, CloudError> {
        let op = format!("creating instance profile {name}");
        let result = self.rt.block_on(
            self.client
                .create_instance_profile()
                .instance_profile_name(name)
                .tags(tag(&op, cluster)?)
                .send(),
        );
        match result {
            Ok(out) => out
                .instance_profile()
                .map(profile_from)
                .ok_or_else(|| CloudError::new(&op, None, "IAM returned no instance profile")),
            Err(e) => {
                let e = iam_err(
                    &op,
                    "iam:CreateInstanceProfile and iam:TagInstanceProfile",
                    e,
                );
                if e.is_code("EntityAlreadyExists") {
                    self.instance_profile(name)?.ok_or(e)
                } else {
                    Err(e)
                }
            }
        }
    }

    fn add_role_to_instance_profile(&self, profile: &str, role: &str) -> Result<(), CloudError> {
        let op = format!("adding IAM role {role} to instance profile {profile}");
        let result = self.settle(|| {
            self.rt
                .block_on(
                    self.client
                        .add_role_to_instance_profile()
                        .instance_profile_name(profile)
                        .role_name(role)
                        .send(),
                )
                .map(|_| ())
                .map_err(|e| iam_err(&op, "iam:AddRoleToInstanceProfile and iam:PassRole", e))
        });
        match result {
            // A profile holds one role: if it is this one, a retried call already succeeded.
            Err(e) if e.is_code("LimitExceeded") || e.is_code("EntityAlreadyExists") => {
                match self.instance_profile(profile)? {
                    Some(p) if p.roles.iter().any(|r| r == role) => Ok(()),
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    fn remove_role_from_instance_profile(
        &self,
        profile: &str,
        role: &str,
    ) -> Result<(), CloudError> {
        let op = format!("removing IAM role {role} from instance profile {profile}");
        gone(
            self.rt
                .block_on(
                    self.client
                        .remove_role_from_instance_profile()
                        .instance_profile_name(profile)
                        .role_name(role)
                        .send(),
                )
                .map(|_| ())
                .map_err(|e| iam_err(&op, "iam:RemoveRoleFromInstanceProfile", e)),
        )
    }

    fn delete_instance_profile(&self, name: &str) -> Result<(), CloudError> {
        let op = format!("deleting instance profile {name}");
        gone(
            self.rt
                .block_on(
                    self.client
                        .delete_instance_profile()
                        .instance_profile_name(name)
                        .send(),
                )
                .map(|_| ())
                .map_err(|e| iam_err(&op, "iam:DeleteInstanceProfile", e)),
        )
    }

    fn delete_role_policy(&self, role: &str, policy: &str) -> Result<(), CloudError> {
        let op = format!("deleting inline policy {policy} of IAM role {role}");
        gone(
            self.rt
                .block_on(
                    self.client
                        .delete_role_policy()
                        .role_name(role)
                        .policy_name(policy)
                        .send(),
                )
                .map(|_| ())
                .map_err(|e| iam_err(&op, "iam:DeleteRolePolicy", e)),
        )
    }

    fn delete_role(&self, name: &str) -> Result<(), CloudError> {
        let op = format!("deleting IAM role {name}");
        gone(
            self.rt
                .block_on(self.client.delete_role().role_name(name).send())
                .map(|_| ())
                .map_err(|e| iam_err(&op, "iam:DeleteRole", e)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::decode_policy_document;

    #[test]
    fn policy_documents_are_decoded_when_url_encoded() {
        assert_eq!(
            decode_policy_document("%7B%22Version%22%3A%20%222012-10-17%22%7D"),
            r#"{"Version": "2012-10-17"}"#
        );
        assert_eq!(decode_policy_document(r#"{"a":"50%"}"#), r#"{"a":"50%"}"#);
        assert_eq!(decode_policy_document("%zz%4"), "%zz%4");
    }
}
