//! `hakit iam policy|apply|rollback`.

use crate::apply::Progress;
use crate::cli::{IamArgs, IamCommand};
use crate::config::{self, Cluster, Mode};
use crate::exit::{IamPartiallyApplied, UsageError};
use crate::host::RealHost;
use crate::iam::{self, Names};
use crate::journal::{layout, StepReport};
use hakit_cloud::{Endpoint, IamCloud, Limits};
use std::path::PathBuf;

pub fn run(
    cmd: IamCommand,
    verbosity: super::Verbosity,
    prompting: crate::prompt::Prompting,
) -> anyhow::Result<()> {
    match cmd {
        IamCommand::Policy(args) => {
            let cluster = config::load(&args.path)?;
            outln!("{}", serde_json::to_string_pretty(&iam::policy(&cluster))?);
            Ok(())
        }
        IamCommand::Apply(args) => apply(args, verbosity),
        IamCommand::Rollback(args) => rollback(args, verbosity, prompting),
    }
}

/// The IAM client: IAM is global, the cluster's region only picks the partition. The
/// cluster's `aws.endpoint_url` is EC2's and is not used; `AWS_ENDPOINT_URL[_IAM]` is.
fn client(cluster: &Cluster) -> anyhow::Result<IamCloud> {
    let region = match &cluster.mode {
        Mode::AwsEip(aws) => aws.region.clone(),
        Mode::L2Vip(_) => None,
    };
    Ok(IamCloud::connect(
        &Endpoint::default_chain(region, None),
        Limits::default(),
    )?)
}

fn state_dir(args: &IamArgs, cluster: &Cluster) -> PathBuf {
    args.state_dir
        .clone()
        .unwrap_or_else(|| cluster.paths.state_dir.clone())
}

fn apply(args: IamArgs, verbosity: super::Verbosity) -> anyhow::Result<()> {
    let cluster = config::load(&args.config.path)?;
    if matches!(cluster.mode, Mode::L2Vip(_)) {
        return Err(UsageError::new(format!(
            "cluster {} is in l2-vip mode: its nodes need no AWS permissions, so there is no role to create",
            cluster.name
        ))
        .into());
    }
    let dir = state_dir(&args, &cluster);
    let client = client(&cluster)?;
    let quiet = verbosity == super::Verbosity::Quiet;
    let mut lines = super::progress::Lines::new(verbosity);
    let mut print = |r: &StepReport| lines.finish(r);
    match iam::apply(&RealHost, &client, &cluster, &dir, &mut print) {
        Ok(reports) => {
            super::progress::print_json(&args.output, &reports)?;
            let changed = StepReport::changed(&reports);
            let names = Names::of(&cluster.name);
            if quiet {
                return Ok(());
            }
            if changed == 0 {
                errln!("iam apply: nothing to change, the role, policy and instance profile {} are already in place", names.profile);
            } else {
                errln!(
                    "iam apply finished: {changed} of {} steps changed something (journal: {}; undo with `hakit iam rollback`)",
                    reports.len(),
                    layout::iam_journal(&dir).display()
                );
            }
            errln!(
                "next: attach instance profile {} to each node's instance, e.g. `aws ec2 associate-iam-instance-profile --instance-id <id> --iam-instance-profile Name={}`",
                names.profile, names.profile
            );
            Ok(())
        }
        Err(err) => {
            let left = iam::load_journal(&RealHost, &dir)
                .ok()
                .flatten()
                .is_some_and(|j| !j.entries.is_empty());
            if !left {
                return Err(err);
            }
            // The cause first, then what is left, so the second cannot hide the first.
            errln!("error: {err:#}");
            Err(IamPartiallyApplied.into())
        }
    }
}

fn rollback(
    args: IamArgs,
    verbosity: super::Verbosity,
    prompting: crate::prompt::Prompting,
) -> anyhow::Result<()> {
    let cluster = config::load(&args.config.path)?;
    let dir = state_dir(&args, &cluster);
    let path = layout::iam_journal(&dir);
    let journal = iam::load_journal(&RealHost, &dir)?;
    let pending = journal.as_ref().is_some_and(|j| !j.entries.is_empty());
    if let Some(journal) = journal.filter(|_| pending) {
        let items = journal.pending();
        let header = format!(
            "hakit will undo {} IAM change(s) of cluster {}, newest first (every node using the role loses it):",
            items.len(),
            cluster.name
        );
        prompting.approve(
            "iam rollback",
            &header,
            &items,
            "Roll back the IAM changes now?",
        )?;
    }
    let client = if pending {
        match client(&cluster) {
            Ok(client) => Some(client),
            Err(e) => {
                errln!("warning: no IAM access, the IAM changes will remain: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let report = iam::rollback(
        &RealHost,
        client.as_ref().map(|c| c as &dyn hakit_cloud::Iam),
        &dir,
    )?;
    super::progress::print_json(&args.output, &report)?;
    super::progress::print_report(&report, verbosity);
    if !report.remaining.is_empty() {
        errln!(
            "iam rollback left {} change(s) in place; fix them and run `hakit iam rollback` again",
            report.remaining.len()
        );
        return Err(IamPartiallyApplied.into());
    }
    if verbosity == super::Verbosity::Quiet {
        return Ok(());
    }
    if report.undone.is_empty() {
        errln!(
            "iam rollback: nothing recorded in {}, nothing to undo",
            path.display()
        );
    } else {
        errln!(
            "iam rollback finished: {} changes undone",
            report.undone.len()
        );
    }
    Ok(())
}
