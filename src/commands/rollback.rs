//! `hakit rollback`: undo this node's journaled setup, newest change first.

use crate::cli::{Output, RollbackArgs};
use crate::config;
use crate::exit::PartiallyApplied;
use crate::host::RealHost;

pub fn run(args: RollbackArgs) -> anyhow::Result<()> {
    let cluster = config::load(&args.config)?;
    let journal = crate::journal::Journal::load(
        &RealHost,
        &crate::journal::Journal::path_in(&cluster.paths.state_dir),
    )?;
    let needs_cloud = journal
        .as_ref()
        .is_some_and(|j| j.entries.iter().any(|e| e.undo.needs_cloud()));
    let cloud = if needs_cloud {
        match super::aws::ec2(&cluster, None) {
            Ok(cloud) => Some(cloud),
            Err(e) => {
                eprintln!("warning: no EC2 access, the AWS changes will remain: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let cloud_ref = cloud.as_ref().map(|c| c as &dyn hakit_cloud::Cloud);
    let report =
        crate::rollback::rollback(&RealHost, cloud_ref, &cluster.paths.state_dir, args.force)?;
    if args.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    for line in &report.undone {
        eprintln!("[undo] {line}");
    }
    for line in &report.remaining {
        eprintln!("[left] {line}");
    }
    if report.remaining.is_empty() {
        eprintln!("rollback finished: {} changes undone", report.undone.len());
        Ok(())
    } else {
        eprintln!(
            "rollback left {} change(s) in place; fix them and run `hakit rollback` again",
            report.remaining.len()
        );
        Err(PartiallyApplied.into())
    }
}
