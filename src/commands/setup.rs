//! `hakit setup`: apply this node's plan through the journal.

use super::Verbosity;
use super::{load_node, SecretsPolicy};
use crate::apply::{self, ApplyInput, StepReport};
use crate::cli::SetupArgs;
use crate::exit::{PartiallyApplied, UsageError};
use crate::host::RealHost;
use crate::journal::CrashPoint;
use crate::plan::{self, PlanInput};
use crate::prompt::Prompting;
use anyhow::Context;

pub fn run(args: SetupArgs, verbosity: Verbosity, prompting: Prompting) -> anyhow::Result<()> {
    let loaded = load_node(&args.node, SecretsPolicy::Required)?;
    let secrets = loaded
        .secrets
        .as_ref()
        .context("the secrets file is required")?;
    let files = loaded.render(secrets, args.node.templates.as_deref())?;
    let distro = crate::distro::detect();
    let netstack = crate::netstack::detect(&RealHost);
    let secrets_text = loaded
        .secrets_text
        .as_deref()
        .context("the secrets file is required")?;
    let plan = plan::build(PlanInput {
        cluster: &loaded.cluster,
        cluster_bytes: loaded.cluster_text.as_bytes(),
        secrets_bytes: secrets_text.as_bytes(),
        target: &loaded.target,
        profile: &loaded.profile,
        distro: distro.as_ref(),
        netstack,
        proxysql_runtime: crate::render::proxysql_runtime::desired(
            &loaded.cluster,
            &loaded.profile,
            secrets,
        ),
        files: &files,
        warnings: vec![],
    });
    let crash_after = std::env::var("HAKIT_TEST_CRASH_AFTER_STEP")
        .ok()
        .and_then(|v| v.parse().ok());
    let aws_mode = matches!(loaded.cluster.mode, crate::config::Mode::AwsEip(_));
    let (facts, cloud) = if aws_mode && !args.skip_cloud {
        let facts = super::aws::facts(&loaded.cluster, &loaded.target.node.name)?;
        let cloud = super::aws::ec2(&loaded.cluster, Some(&facts))?;
        (Some(facts), Some(cloud))
    } else {
        (None, None)
    };
    let input = ApplyInput {
        cluster: &loaded.cluster,
        cloud: cloud.as_ref().map(|c| c as &dyn hakit_cloud::Cloud),
        facts: facts.as_ref(),
        plan: &plan,
        state_dir: &loaded.cluster.paths.state_dir,
        templates: args.node.templates.as_deref(),
        no_start: args.no_start,
        skip_cloud: args.skip_cloud,
        crash_after,
        crash_at: CrashPoint::from_env(),
    };
    let host = RealHost;
    // A hook that cannot run fails every transition with exit 127: refuse before
    // changing anything.
    if let Some(problem) = loaded.hook_problem(&host) {
        return Err(UsageError::new(problem).into());
    }
    // Files someone made or edited are replaced only with consent: asked on a terminal,
    // `--yes` otherwise; without either, setup refuses before changing anything.
    let foreign: Vec<String> =
        crate::foreign::files(&host, &files, &loaded.cluster.paths.state_dir)?
            .iter()
            .map(|p| p.display().to_string())
            .collect();
    if !foreign.is_empty() {
        let header = "setup will replace files hakit did not write (each is backed up first and put back by `hakit rollback`):";
        if prompting.asks() {
            prompting.approve("setup", header, &foreign, "Replace them?")?;
        } else if !prompting.yes {
            return Err(UsageError::with_hint(
                format!(
                    "setup would replace {} that hakit did not write and that no package shipped as it is now: {}",
                    if foreign.len() == 1 { "a file" } else { "files" },
                    foreign.join(", ")
                ),
                "check them (`hakit plan` lists them too), then run setup again with --yes: each is backed up first and put back by `hakit rollback`",
            )
            .into());
        }
    }
    if !args.skip_cloud {
        if let Some(warning) = loaded.network_stack_warning(&host, netstack) {
            errln!("warning: {warning}");
        }
    }
    let mut progress = super::progress::for_stderr(verbosity);
    match apply::apply(&host, &input, progress.as_mut()) {
        Ok(reports) => {
            super::progress::print_json(&args.output, &reports)?;
            let changed = StepReport::changed(&reports);
            errln!(
                "setup finished: {changed} of {} steps changed something",
                reports.len()
            );
            Ok(())
        }
        Err(err) => {
            // The cause first, then the cleanup, so the cleanup cannot hide it.
            errln!("error: {err:#}");
            let roll_back = args.rollback_on_error
                || prompting.offer(
                    "Setup failed. Roll back what it changed on this node?",
                    true,
                )?;
            if !roll_back {
                errln!("the changes made so far stay in place: run `hakit rollback` to undo them, or fix the cause and run setup again");
            } else {
                errln!("rolling back");
                let report = crate::rollback::rollback(
                    &host,
                    input.cloud,
                    &loaded.cluster.paths.state_dir,
                    false,
                )?;
                super::progress::print_report(&report, verbosity);
                if report.remaining.is_empty() {
                    anyhow::bail!("setup failed and was rolled back");
                }
            }
            Err(PartiallyApplied.into())
        }
    }
}
