//! `hakit rollback`: undo this node's journaled setup, newest change first.

use crate::cli::{Output, RollbackArgs};
use crate::config;
use crate::exit::PartiallyApplied;
use crate::host::RealHost;

pub fn run(args: RollbackArgs) -> anyhow::Result<()> {
    let cluster = config::load(&args.config)?;
    let report = crate::rollback::rollback(&RealHost, &cluster.paths.state_dir, args.force)?;
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
