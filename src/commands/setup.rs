//! `hakit setup`: apply this node's plan through the journal.

use super::{load_node, SecretsPolicy};
use crate::apply::{self, ApplyInput, Status, StepReport};
use crate::cli::{Output, SetupArgs};
use crate::exit::PartiallyApplied;
use crate::host::RealHost;
use crate::plan::{self, PlanInput};
use anyhow::Context;

pub fn run(args: SetupArgs, verbosity: super::Verbosity) -> anyhow::Result<()> {
    let loaded = load_node(&args.node, SecretsPolicy::Required)?;
    let secrets = loaded
        .secrets
        .as_ref()
        .context("the secrets file is required")?;
    let files = loaded.render(secrets, args.node.templates.as_deref())?;
    let distro = crate::facts::detect();
    let plan = plan::build(PlanInput {
        cluster: &loaded.cluster,
        target: &loaded.target,
        profile: &loaded.profile,
        distro: distro.as_ref(),
        files: &files,
        warnings: vec![],
    });
    let cluster_bytes = std::fs::read(&args.node.config)
        .with_context(|| format!("reading {}", args.node.config.display()))?;
    let secrets_bytes = std::fs::read(&loaded.secrets_path)
        .with_context(|| format!("reading {}", loaded.secrets_path.display()))?;
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
        files: &files,
        cluster_bytes: &cluster_bytes,
        secrets_bytes: &secrets_bytes,
        state_dir: &loaded.cluster.paths.state_dir,
        no_start: args.no_start,
        skip_cloud: args.skip_cloud,
        crash_after,
    };
    let host = RealHost;
    let mut print = |r: &StepReport| {
        let shown = match verbosity {
            super::Verbosity::Quiet => false,
            super::Verbosity::Normal => r.status != Status::AlreadyDone,
            super::Verbosity::Verbose => true,
        };
        if !shown {
            return;
        }
        let tag = match r.status {
            Status::Applied => "done",
            Status::AlreadyDone => "ok  ",
            Status::Checked => "chk ",
            Status::Skipped => "skip",
        };
        let note = r
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        eprintln!("[{tag}] {}{note}", r.step);
    };
    match apply::apply(&host, &input, &mut print) {
        Ok(reports) => {
            if args.output == Output::Json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            }
            let changed = reports
                .iter()
                .filter(|r| r.status == Status::Applied)
                .count();
            eprintln!(
                "setup finished: {changed} of {} steps changed something",
                reports.len()
            );
            Ok(())
        }
        Err(err) => {
            // The cause first, then the cleanup, so the cleanup cannot hide it.
            eprintln!("error: {err:#}");
            if args.rollback_on_error {
                eprintln!("rolling back (--rollback-on-error)");
                let report = crate::rollback::rollback(
                    &host,
                    input.cloud,
                    &loaded.cluster.paths.state_dir,
                    false,
                )?;
                for line in &report.undone {
                    eprintln!("[undo] {line}");
                }
                if report.remaining.is_empty() {
                    anyhow::bail!("setup failed and was rolled back");
                }
                for line in &report.remaining {
                    eprintln!("[left] {line}");
                }
            }
            Err(PartiallyApplied.into())
        }
    }
}
