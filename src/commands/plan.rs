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
    let host = crate::host::RealHost;
    let state_dir = &loaded.cluster.paths.state_dir;
    for path in crate::foreign::files(&host, &files, state_dir)? {
        warnings.push(format!(
            "{} exists and was not written by hakit, nor is it a package's default: setup asks before replacing it on a terminal and needs --yes otherwise (it is backed up and put back by rollback)",
            path.display()
        ));
    }
    if let Some(problem) = loaded.hook_problem(&host) {
        warnings.push(format!("{problem} (setup refuses until it can run)"));
    }
    let netstack = crate::netstack::detect(&host);
    warnings.extend(loaded.network_stack_warning(&host, netstack));
    let distro = crate::distro::detect();
    let mut plan = plan::build(PlanInput {
        cluster: &loaded.cluster,
        cluster_bytes: loaded.cluster_text.as_bytes(),
        secrets_bytes: loaded
            .secrets_text
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
        target: &loaded.target,
        profile: &loaded.profile,
        distro: distro.as_ref(),
        netstack,
        proxysql_runtime: crate::render::proxysql_runtime::desired(
            &loaded.cluster,
            &loaded.profile,
            &secrets,
        ),
        files: &files,
        warnings,
    });
    if args.preflight {
        plan.preflight = preflight(&loaded, &args.node.config.path)?;
    }
    match args.output.format {
        Output::Json => outln!("{}", serde_json::to_string_pretty(&plan)?),
        Output::Text => {
            out!("{plan}");
            for warning in &plan.warnings {
                errln!("warning: {warning}");
            }
            errln!(
                "Nothing was changed. Apply with: hakit setup --config {} --role {}",
                args.node.config.path.display(),
                loaded.target.role.as_str()
            );
        }
    }
    Ok(())
}

/// `--preflight`: IMDS for the subnet (and the instance id when the cluster file has
/// none), then EC2's DryRun verdicts.
fn preflight(
    loaded: &super::LoadedNode,
    config: &std::path::Path,
) -> anyhow::Result<Vec<crate::preflight::Permission>> {
    if !matches!(loaded.cluster.mode, crate::config::Mode::AwsEip(_)) {
        return Ok(vec![]);
    }
    let node = &loaded.target.node;
    let facts = match (
        &node.instance_id,
        super::aws::facts(&loaded.cluster, &node.name),
    ) {
        (_, Ok(facts)) => Some(facts),
        (Some(_), Err(e)) => {
            errln!(
                "warning: no instance metadata ({e:#}): the ENI checks name placeholder resources"
            );
            None
        }
        (None, Err(e)) => return Err(e),
    };
    let cloud = super::aws::ec2(&loaded.cluster, facts.as_ref())?;
    Ok(crate::preflight::check(
        &cloud,
        &loaded.cluster,
        &node.name,
        facts.as_ref(),
        config,
    ))
}
