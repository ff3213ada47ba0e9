//! `hakit rollback`: undo this node's journaled setup, newest change first. On a terminal it
//! lists what it will undo and asks first; `--yes` (or no terminal) goes ahead.

use super::Verbosity;
use crate::cli::{Output, RollbackArgs};
use crate::config;
use crate::exit::PartiallyApplied;
use crate::host::RealHost;
use crate::journal::Journal;
use crate::prompt::Prompting;

pub fn run(args: RollbackArgs, verbosity: Verbosity, prompting: Prompting) -> anyhow::Result<()> {
    let cluster = config::load(&args.config)?;
    let state_dir = &cluster.paths.state_dir;
    let journal = Journal::load(&RealHost, &Journal::path_in(state_dir))?;
    if let Some(journal) = journal
        .as_ref()
        .filter(|_| prompting.interactive && !prompting.yes)
    {
        eprintln!(
            "hakit will undo {} change(s) on this node, newest first (the Elastic IP is never released):",
            journal.entries.len()
        );
        for entry in journal.entries.iter().rev() {
            eprintln!("  - {}", crate::rollback::describe(&entry.undo));
        }
        if !prompting.confirm("Roll back now?", false)? {
            eprintln!("rollback cancelled: nothing changed (pass --yes to skip this question)");
            return Ok(());
        }
    }
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
    let report = crate::rollback::rollback(&RealHost, cloud_ref, state_dir, args.force)?;
    if args.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    print_report(&report, verbosity);
    if report.remaining.is_empty() {
        if verbosity != Verbosity::Quiet {
            eprintln!("rollback finished: {} changes undone", report.undone.len());
        }
        Ok(())
    } else {
        eprintln!(
            "rollback left {} change(s) in place; fix them and run `hakit rollback` again",
            report.remaining.len()
        );
        Err(PartiallyApplied.into())
    }
}

/// One line per undone change (not with -q), and every change left in place.
pub fn print_report(report: &crate::rollback::RollbackReport, verbosity: Verbosity) {
    if verbosity != Verbosity::Quiet {
        for line in &report.undone {
            eprintln!("[undo] {line}");
        }
    }
    for line in &report.remaining {
        eprintln!("[left] {line}");
    }
}
