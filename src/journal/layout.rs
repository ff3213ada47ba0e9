//! The state directory's layout, in one place: the node journal, the IAM journal, the
//! backups of replaced files, and the files hakit creates while running there.

use std::path::{Path, PathBuf};

/// The node's journal (`hakit setup` / `hakit rollback`).
pub const JOURNAL_FILE: &str = "journal.json";
/// The IAM journal (`hakit iam apply` / `hakit iam rollback`), never read by a node's rollback.
pub const IAM_JOURNAL_FILE: &str = "iam-journal.json";

/// Files hakit (or the proxy it configured) creates while running, in directories setup
/// created: notify's lock and sequence files, what the last reconcile reported, the
/// failover log. Removed with their directory, as are stale unix sockets.
pub const RUNTIME_FILES: &[&str] = &[
    "notify.lock",
    "notify.seq",
    RECONCILE_MEMORY_FILE,
    "failover.log",
];

/// What the last reconcile reported when it left the address with another master
/// (`notify::reconcile_memory`).
pub const RECONCILE_MEMORY_FILE: &str = "reconcile.last";

pub fn journal(state_dir: &Path) -> PathBuf {
    state_dir.join(JOURNAL_FILE)
}

/// What ProxySQL's admin interface held before setup first loaded a change into it: the
/// statements that put it back (root-only: it holds passwords).
pub fn proxysql_snapshot(state_dir: &Path) -> PathBuf {
    state_dir.join("proxysql-before.json")
}

pub fn iam_journal(state_dir: &Path) -> PathBuf {
    state_dir.join(IAM_JOURNAL_FILE)
}

/// Where setup keeps the earlier versions of the files it replaced.
pub fn backups(state_dir: &Path) -> PathBuf {
    state_dir.join("backups")
}

/// The backup of `path` in `backups`: its path with '/' as '%' (also how
/// `rollback --discover` finds it without a journal).
pub fn backup_of(backups: &Path, path: &Path) -> PathBuf {
    backups.join(
        path.to_string_lossy()
            .trim_start_matches('/')
            .replace('/', "%"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_name_is_the_path_with_percent_signs() {
        let b = backup_of(
            Path::new("/var/lib/hakit/backups"),
            Path::new("/etc/a/b.conf"),
        );
        assert_eq!(b, PathBuf::from("/var/lib/hakit/backups/etc%a%b.conf"));
    }
}
