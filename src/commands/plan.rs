//! `hakit plan`: print the steps setup would take on this node. No side effects.

use super::{load_node, SecretsPolicy};
use crate::cli::{Output, PlanArgs};
use crate::plan::{self, PlanInput};
use crate::secrets::Secrets;

pub fn run(args: PlanArgs) -> anyhow::Result<()> {
    let loaded = load_node(&args.node, SecretsPolicy::Optional)?;
    let mut warnings = Vec::new();
    // File paths and modes do not depend on secret values, so without a secrets file the
    // plan renders with throwaway ones that are never shown.
    let secrets = match &loaded.secrets {
        Some(secrets) => secrets.clone(),
        None => {
            warnings.push(format!(
                "secrets file {} not found: setup needs it (copy the one `hakit init` wrote, or pass --secrets)",
                loaded.secrets_path.display()
            ));
            Secrets::generate()?
        }
    };
    let files = loaded.render(&secrets, args.node.templates.as_deref())?;
    let distro = crate::facts::detect();
    let mut plan = plan::build(PlanInput {
        cluster: &loaded.cluster,
        target: &loaded.target,
        profile: &loaded.profile,
        distro: distro.as_ref(),
        files: &files,
        warnings,
    });
    if args.preflight {
        plan.preflight = preflight(&loaded, &args.node.config)?;
    }
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        Output::Text => {
            print!("{plan}");
            for warning in &plan.warnings {
                eprintln!("warning: {warning}");
            }
            eprintln!(
                "Nothing was changed. Apply with: hakit setup --config {} --role {}",
                args.node.config.display(),
                loaded.target.role.as_str()
            );
        }
    }
    Ok(())
}

/// Ask EC2 with DryRun whether this identity may call each action setup, notify and
/// rollback need, naming this node's own resources where they exist (its subnet from IMDS,
/// its ENI once setup made it, the cluster's Elastic IP) and placeholders otherwise.
fn preflight(
    loaded: &super::LoadedNode,
    config: &std::path::Path,
) -> anyhow::Result<Vec<plan::Permission>> {
    use hakit_cloud::{Action, Cloud, Probe};
    use plan::Verdict;
    let crate::config::Mode::AwsEip(aws) = &loaded.cluster.mode else {
        return Ok(vec![]);
    };
    let node = &loaded.target.node;
    // IMDS gives the subnet (and the instance id when the cluster file has none).
    let facts = match (
        &node.instance_id,
        super::aws::facts(&loaded.cluster, &node.name),
    ) {
        (_, Ok(facts)) => Some(facts),
        (Some(_), Err(e)) => {
            eprintln!(
                "warning: no instance metadata ({e:#}): the ENI checks name placeholder resources"
            );
            None
        }
        (None, Err(e)) => return Err(e),
    };
    let instance = node
        .instance_id
        .clone()
        .or_else(|| facts.as_ref().map(|f| f.instance_id.clone()))
        .unwrap_or_default();
    let cloud = super::aws::ec2(&loaded.cluster, facts.as_ref())?;
    // This node's ENI, if setup made it already (a denied describe shows up below).
    let eni = cloud
        .find_enis(&loaded.cluster.name, Some(&node.name))
        .ok()
        .and_then(|enis| enis.into_iter().next());
    let association = cloud
        .address(&aws.eip_allocation_id)
        .ok()
        .and_then(|a| a.association_id);
    let probe = Probe {
        cluster: loaded.cluster.name.clone(),
        node: node.name.clone(),
        allocation_id: aws.eip_allocation_id.clone(),
        instance_id: instance,
        subnet_id: facts.as_ref().map(|f| f.subnet_id.clone()),
        security_group_ids: if aws.security_group_ids.is_empty() {
            facts
                .as_ref()
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
    Ok(Action::ALL
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
            plan::Permission {
                action: name.into(),
                allowed: verdict == Verdict::Allowed,
                verdict,
                used_for: action.used_for().into(),
                error,
                fix,
            }
        })
        .collect())
}
