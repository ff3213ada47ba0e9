//! Undo a node's journaled setup, newest change first, restoring what was there before. A
//! failed undo is reported and the rest still runs; what could not be undone stays in the
//! journal. Without a journal, [`discover`] finds hakit's changes by their marks.

pub mod discover;

use crate::host::Host;
use crate::journal::{layout, EntryState, NodeJournal, RollbackReport, Undo, UndoContext};
use anyhow::bail;
use hakit_cloud::Cloud;
use std::path::Path;

/// Roll back the journal in `state_dir`. `force` restores files changed since hakit wrote them.
/// `cloud` is needed only for journaled AWS changes; without it they are reported as remaining.
pub fn rollback(
    host: &dyn Host,
    cloud: Option<&dyn Cloud>,
    state_dir: &Path,
    force: bool,
) -> anyhow::Result<RollbackReport> {
    let Some(mut journal) = NodeJournal::load_in(host, state_dir)? else {
        bail!("no journal at {}: nothing recorded to roll back (was setup run with this cluster file's paths.state_dir?); if setup ran and its state dir was lost, `hakit rollback --discover` finds hakit's files and ENI by their marks", layout::journal(state_dir).display());
    };
    let ctx = UndoContext { host, cloud, force };
    journal.unwind(host, |entry| entry.undo.run(&ctx, entry.state))
}

/// Run undo entries found without a journal (`rollback --discover`), in the given order,
/// going on past failures.
pub fn run_entries(
    host: &dyn Host,
    cloud: Option<&dyn Cloud>,
    entries: &[Undo],
    force: bool,
) -> RollbackReport {
    use crate::journal::Change;
    let ctx = UndoContext { host, cloud, force };
    let mut report = RollbackReport::default();
    for entry in entries {
        let what = entry.describe();
        match entry.run(&ctx, EntryState::Done) {
            Ok(()) => report.undone.push(what),
            Err(err) => report.remaining.push(format!("{what}: {err:#}")),
        }
    }
    report
}
