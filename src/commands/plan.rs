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
    let plan = plan::build(PlanInput {
        cluster: &loaded.cluster,
        target: &loaded.target,
        profile: &loaded.profile,
        distro: distro.as_ref(),
        files: &files,
        warnings,
    });
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
