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
        plan.preflight = preflight(&loaded)?;
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

/// Ask EC2 with DryRun whether this identity may call each action setup and notify need.
fn preflight(loaded: &super::LoadedNode) -> anyhow::Result<Vec<plan::Permission>> {
    use hakit_cloud::{Action, Cloud};
    let crate::config::Mode::AwsEip(aws) = &loaded.cluster.mode else {
        return Ok(vec![]);
    };
    let facts = match &loaded.target.node.instance_id {
        Some(_) => None,
        None => Some(super::aws::facts(
            &loaded.cluster,
            &loaded.target.node.name,
        )?),
    };
    let instance = loaded
        .target
        .node
        .instance_id
        .clone()
        .or_else(|| facts.as_ref().map(|f| f.instance_id.clone()))
        .unwrap_or_default();
    let cloud = super::aws::ec2(&loaded.cluster, facts.as_ref())?;
    Ok(Action::ALL
        .iter()
        .map(
            |action| match cloud.may(*action, &aws.eip_allocation_id, &instance) {
                Ok(allowed) => plan::Permission {
                    action: action.iam_name().into(),
                    allowed,
                    error: None,
                },
                Err(e) => plan::Permission {
                    action: action.iam_name().into(),
                    allowed: false,
                    error: Some(e.to_string()),
                },
            },
        )
        .collect())
}
