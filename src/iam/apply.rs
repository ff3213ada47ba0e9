//! `hakit iam apply`: create (or confirm) the role, its inline policy and the instance
//! profile, each change journaled before it is made. Running it again changes nothing.

use super::{not_ours, open_journal, policy, IamJournal, IamUndo, Names};
use crate::config::Cluster;
use crate::host::Host;
use crate::journal::{Status, StepReport};
use anyhow::{bail, Context};
use hakit_cloud::{Iam, IamRole, InstanceProfile, TAG_CLUSTER};
use std::path::Path;

/// Create (or confirm) the role, its inline policy and the instance profile, reporting each
/// step through `progress`. Running it again changes nothing.
pub fn apply(
    host: &dyn Host,
    iam: &dyn Iam,
    cluster: &Cluster,
    state_dir: &Path,
    progress: &mut dyn FnMut(&StepReport),
) -> anyhow::Result<Vec<StepReport>> {
    let mut journal = open_journal(host, state_dir, &cluster.name)?;
    let names = Names::of(&cluster.name);
    let c = cluster.name.as_str();
    let document = policy(cluster);
    let steps: [(String, IamStep); 4] = [
        (
            format!(
                "create IAM role {} (trusted by ec2.amazonaws.com, tagged {TAG_CLUSTER}={c})",
                names.role
            ),
            IamStep::Role,
        ),
        (
            format!(
                "put inline policy {} on IAM role {} (`hakit iam policy`)",
                names.policy, names.role
            ),
            IamStep::Policy,
        ),
        (
            format!(
                "create instance profile {} (tagged {TAG_CLUSTER}={c})",
                names.profile
            ),
            IamStep::Profile,
        ),
        (
            format!(
                "add IAM role {} to instance profile {}",
                names.role, names.profile
            ),
            IamStep::AddRole,
        ),
    ];
    let mut reports = Vec::new();
    for (i, (text, step)) in steps.iter().enumerate() {
        let (status, note) = match step {
            IamStep::Role => role(host, iam, &mut journal, &names, c),
            IamStep::Policy => put_policy(host, iam, &mut journal, &names, &document),
            IamStep::Profile => profile(host, iam, &mut journal, &names, c),
            IamStep::AddRole => add_role(host, iam, &mut journal, &names, c),
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

enum IamStep {
    Role,
    Policy,
    Profile,
    AddRole,
}

type StepResult = anyhow::Result<(Status, Option<String>)>;

fn role(
    host: &dyn Host,
    iam: &dyn Iam,
    journal: &mut IamJournal,
    names: &Names,
    cluster: &str,
) -> StepResult {
    let tagged = |r: IamRole| Tagged {
        cluster: r.cluster,
        arn: r.arn,
    };
    create_tagged(
        host,
        journal,
        Entity {
            kind: "IAM role",
            name: &names.role,
            cluster,
        },
        IamUndo::DeleteRole {
            role: names.role.clone(),
        },
        || Ok(iam.role(&names.role)?.map(tagged)),
        || Ok(tagged(iam.create_role(&names.role, cluster)?)),
    )
}

/// An IAM entity hakit creates, named and tagged with the cluster.
struct Entity<'a> {
    kind: &'a str,
    name: &'a str,
    cluster: &'a str,
}

/// What IAM says of such an entity: its `hakit:cluster` tag and its ARN.
struct Tagged {
    cluster: Option<String>,
    arn: String,
}

/// Found and ours: recorded as done (so rollback finds it even if an earlier journal was
/// lost). Found and not ours: refused, never adopted. Missing: created through the journal,
/// and refused if someone else's appeared between the look and the create.
fn create_tagged(
    host: &dyn Host,
    journal: &mut IamJournal,
    entity: Entity<'_>,
    undo: IamUndo,
    find: impl FnOnce() -> anyhow::Result<Option<Tagged>>,
    create: impl FnOnce() -> anyhow::Result<Tagged>,
) -> StepResult {
    let refuse = |tag: Option<&str>| not_ours(entity.kind, entity.name, entity.cluster, tag);
    if let Some(existing) = find()? {
        if existing.cluster.as_deref() != Some(entity.cluster) {
            return Err(refuse(existing.cluster.as_deref()));
        }
        journal.record_done(host, undo)?;
        return Ok((Status::AlreadyDone, Some(existing.arn)));
    }
    let index = journal.intend_once(host, undo)?;
    let created = create()?;
    if created.cluster.as_deref() != Some(entity.cluster) {
        journal.forget(host, index)?;
        return Err(refuse(created.cluster.as_deref()));
    }
    journal.done(host, index)?;
    Ok((Status::Applied, Some(created.arn)))
}

fn put_policy(
    host: &dyn Host,
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
        journal.record_done(host, undo)?;
        return Ok((Status::AlreadyDone, None));
    }
    let index = journal.intend_once(host, undo)?;
    let text = serde_json::to_string(document).context("serializing the policy")?;
    iam.put_role_policy(&names.role, &names.policy, &text)?;
    journal.done(host, index)?;
    Ok((
        Status::Applied,
        current.map(|_| "updated: the cluster file changed since the last apply".into()),
    ))
}

fn profile(
    host: &dyn Host,
    iam: &dyn Iam,
    journal: &mut IamJournal,
    names: &Names,
    cluster: &str,
) -> StepResult {
    let tagged = |p: InstanceProfile| Tagged {
        cluster: p.cluster,
        arn: p.arn,
    };
    create_tagged(
        host,
        journal,
        Entity {
            kind: "instance profile",
            name: &names.profile,
            cluster,
        },
        IamUndo::DeleteInstanceProfile {
            profile: names.profile.clone(),
        },
        || Ok(iam.instance_profile(&names.profile)?.map(tagged)),
        || {
            Ok(tagged(
                iam.create_instance_profile(&names.profile, cluster)?,
            ))
        },
    )
}

fn add_role(
    host: &dyn Host,
    iam: &dyn Iam,
    journal: &mut IamJournal,
    names: &Names,
    cluster: &str,
) -> StepResult {
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
        journal.record_done(host, undo)?;
        return Ok((Status::AlreadyDone, None));
    }
    if let Some(other) = profile.roles.first() {
        bail!(
            "instance profile {} already holds IAM role {other} (a profile holds one role): remove it with `aws iam remove-role-from-instance-profile --instance-profile-name {} --role-name {other}`",
            names.profile,
            names.profile
        );
    }
    let index = journal.intend_once(host, undo)?;
    iam.add_role_to_instance_profile(&names.profile, &names.role)?;
    journal.done(host, index)?;
    Ok((Status::Applied, None))
}
