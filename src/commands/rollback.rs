//! `hakit rollback`: undo this node's journaled setup, newest change first. On a terminal it
//! lists what it will undo and asks first; `--yes` (or no terminal) goes ahead.

use super::Verbosity;
use crate::cli::RollbackArgs;
use crate::config;
use crate::exit::PartiallyApplied;
use crate::host::RealHost;
use crate::journal::{layout, Change, NodeJournal, RollbackReport};
use crate::prompt::Prompting;

pub fn run(args: RollbackArgs, verbosity: Verbosity, prompting: Prompting) -> anyhow::Result<()> {
    let cluster = config::load(&args.config.path)?;
    let state_dir = &cluster.paths.state_dir;
    let journal = NodeJournal::load_in(&RealHost, state_dir)?;
    if args.discover {
        if journal.is_some() {
            errln!("the journal is there ({}): rolling back from it; --discover is only for a lost journal", layout::journal(state_dir).display());
        } else {
            return discover(&args, &cluster, verbosity, prompting);
        }
    }
    if let Some(journal) = &journal {
        let items = journal.pending();
        let header = format!(
            "hakit will undo {} change(s) on this node, newest first (the Elastic IP is never released):",
            items.len()
        );
        prompting.approve("rollback", &header, &items, "Roll back now?")?;
    }
    let needs_cloud = journal
        .as_ref()
        .is_some_and(|j| j.entries.iter().any(|e| e.undo.needs_cloud()));
    let cloud = if needs_cloud {
        match super::aws::ec2(&cluster, None) {
            Ok(cloud) => Some(cloud),
            Err(e) => {
                errln!("warning: no EC2 access, the AWS changes will remain: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let cloud_ref = cloud.as_ref().map(|c| c as &dyn hakit_cloud::Cloud);
    let report = crate::rollback::rollback(&RealHost, cloud_ref, state_dir, args.force)?;
    finish(&args, &report, verbosity)
}

/// Print the report (and JSON), and exit 3 if anything remains.
fn finish(
    args: &RollbackArgs,
    report: &RollbackReport,
    verbosity: Verbosity,
) -> anyhow::Result<()> {
    super::progress::print_json(&args.output, report)?;
    super::progress::print_report(report, verbosity);
    if report.remaining.is_empty() {
        if verbosity != Verbosity::Quiet {
            errln!("rollback finished: {} changes undone", report.undone.len());
        }
        Ok(())
    } else {
        errln!(
            "rollback left {} change(s) in place; fix them and run `hakit rollback` again",
            report.remaining.len()
        );
        // The cluster file setup installed goes early in a rollback; the next one needs
        // the operator's own copy.
        if !args.config.path.exists() {
            errln!(
                "hint: {} was removed by this rollback (setup installed it): run it again with --config pointing at your own copy of the cluster file",
                args.config.path.display()
            );
        }
        Err(PartiallyApplied.into())
    }
}

/// `--discover`: no journal, so find hakit's marks and undo what they show.
fn discover(
    args: &RollbackArgs,
    cluster: &crate::config::Cluster,
    verbosity: Verbosity,
    prompting: Prompting,
) -> anyhow::Result<()> {
    let node = crate::role::this_node(cluster, args.node.as_deref(), &RealHost)?;
    let base = args
        .config
        .path
        .parent()
        .unwrap_or(std::path::Path::new("."));
    let profile = crate::profile::load(&cluster.profile, base)?;
    let proxy_dir = cluster
        .paths
        .proxy_config_dir
        .clone()
        .unwrap_or_else(|| profile.config_dir.clone().into());
    let cloud = match &cluster.mode {
        crate::config::Mode::AwsEip(_) => match super::aws::ec2(cluster, None) {
            Ok(cloud) => Some(cloud),
            Err(e) => {
                errln!("warning: no EC2 access, this node's ENI cannot be looked for: {e:#}");
                None
            }
        },
        crate::config::Mode::L2Vip(_) => None,
    };
    let cloud_ref = cloud.as_ref().map(|c| c as &dyn hakit_cloud::Cloud);
    let source_dirs = [
        std::path::PathBuf::from(crate::vendor_repo::APT_SOURCES_DIR),
        std::path::PathBuf::from(crate::vendor_repo::YUM_REPOS_DIR),
    ];
    let scope = crate::rollback::discover::Scope {
        cluster,
        node: &node,
        proxy_config_dir: &proxy_dir,
        proxy_service: &profile.service,
        package_source_dirs: &source_dirs,
    };
    let found = crate::rollback::discover::discover(&RealHost, cloud_ref, &scope)?;
    let items: Vec<String> = found.entries.iter().map(Change::describe).collect();
    let header = format!(
        "no journal: hakit found {} change(s) of node {node} by their marks (the Elastic IP is never released):",
        items.len()
    );
    prompting.approve("rollback", &header, &items, "Undo them?")?;
    let mut report = crate::rollback::run_entries(&RealHost, cloud_ref, &found.entries, args.force);
    report.left_alone = found.left_alone;
    finish(args, &report, verbosity)
}
