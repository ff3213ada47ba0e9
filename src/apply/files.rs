//! Files and directories through the journal: the intent (with where the backup goes) is
//! recorded before the backup is taken and before the file is replaced, so a crash at any
//! point leaves an entry whose undo restores exactly what was there.

use super::StepResult;
use crate::host::{Host, Ownership};
use crate::journal::{
    layout, sha256_hex, Entry, EntryState, NodeJournal, OwnershipRecord, Status, Undo,
};
use crate::render::RenderedFile;
use anyhow::Context;
use std::path::Path;

/// root:root 0644: the installed cluster file, repository files.
pub(super) fn public() -> Ownership {
    Ownership::root(0o644)
}

/// root:root 0600: the installed secrets file, backups.
pub(super) fn secret() -> Ownership {
    Ownership::root(0o600)
}

/// Write a rendered file with its own mode and owner.
pub(super) fn write_rendered(
    host: &dyn Host,
    journal: &mut NodeJournal,
    file: &RenderedFile,
) -> StepResult {
    let owner = Ownership {
        mode: file.mode,
        owner: file.owner.clone(),
        group: file.group.clone(),
    };
    write_file(host, journal, &file.path, file.contents.as_bytes(), &owner)
}

/// Create `path` and any missing parents, journaling each so rollback removes them.
pub(super) fn ensure_dir(
    host: &dyn Host,
    journal: &mut NodeJournal,
    path: &Path,
    mode: u32,
) -> anyhow::Result<()> {
    if host.is_dir(path) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        ensure_dir(host, journal, parent, 0o755)?;
    }
    let index = journal.intend(
        host,
        Undo::RemoveDir {
            path: path.to_path_buf(),
        },
    )?;
    host.create_dir(path, mode)?;
    journal.done(host, index)
}

/// The journal lives in the state dir, so that directory (and any missing parent) is
/// created first and recorded right after, once the journal can be written.
pub(super) fn bootstrap_state_dir(
    host: &dyn Host,
    journal: &mut NodeJournal,
    state_dir: &Path,
) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    let mut dir = Some(state_dir);
    while let Some(d) = dir.filter(|d| !host.is_dir(d)) {
        missing.push(d.to_path_buf());
        dir = d.parent();
    }
    for d in missing.iter().rev() {
        let mode = if d == state_dir { 0o700 } else { 0o755 };
        host.create_dir(d, mode)?;
        journal.entries.push(Entry {
            state: EntryState::Done,
            undo: Undo::RemoveDir { path: d.clone() },
        });
    }
    journal.save(host)
}

/// Replace `path` with `bytes` (atomically), keeping the earlier version as a backup that
/// rollback puts back; a file this journal wrote before is rewritten in place.
pub(super) fn write_file(
    host: &dyn Host,
    journal: &mut NodeJournal,
    path: &Path,
    bytes: &[u8],
    owner: &Ownership,
) -> StepResult {
    let current = host.read(path)?;
    let current_owner = host.ownership(path)?;
    if current.as_deref() == Some(bytes) && current_owner.as_ref() == Some(owner) {
        return Ok((Status::AlreadyDone, None));
    }
    if let Some(parent) = path.parent() {
        ensure_dir(host, journal, parent, 0o755)?;
    }
    let sha = sha256_hex(bytes);
    if let Some(index) = journal.file_entry(path) {
        let entry = journal.entries[index].clone();
        let current_sha = current.as_deref().map(sha256_hex);
        match entry.undo {
            Undo::RestoreFile {
                written_sha256,
                previous_sha256,
                backup,
                original,
                ..
            } if entry.state == EntryState::Done
                || current_sha.as_ref() == Some(&written_sha256)
                || (current_sha.is_some() && current_sha == previous_sha256) =>
            {
                // Written by an earlier setup: keep the original backup; while rewriting,
                // the earlier content still counts as hakit's.
                journal.reopen(
                    host,
                    index,
                    Undo::RestoreFile {
                        path: path.to_path_buf(),
                        backup: backup.clone(),
                        original: original.clone(),
                        written_sha256: sha.clone(),
                        previous_sha256: Some(written_sha256),
                    },
                )?;
                host.write_atomic(path, bytes, owner)?;
                journal.entries[index].undo = Undo::RestoreFile {
                    path: path.to_path_buf(),
                    backup,
                    original,
                    written_sha256: sha,
                    previous_sha256: None,
                };
                journal.done(host, index)?;
                return Ok((Status::Applied, Some("updated".into())));
            }
            // An intent whose write never happened (a crash): the file is still the one
            // from before; start over so that it is backed up.
            _ => journal.forget(host, index)?,
        }
    }
    let backup = match &current {
        Some(_) => {
            let dir = journal.backups_dir();
            ensure_dir(host, journal, &dir, 0o700)?;
            Some(layout::backup_of(&dir, path))
        }
        None => None,
    };
    let index = journal.intend(
        host,
        Undo::RestoreFile {
            path: path.to_path_buf(),
            backup: backup.clone(),
            original: current_owner.as_ref().map(OwnershipRecord::from),
            written_sha256: sha,
            previous_sha256: None,
        },
    )?;
    if let (Some(backup), Some(old)) = (&backup, &current) {
        host.write_atomic(backup, old, &secret())
            .with_context(|| format!("backing up {}", path.display()))?;
    }
    host.write_atomic(path, bytes, owner)?;
    journal.done(host, index)?;
    let note = backup.map(|b| format!("previous version kept in {}", b.display()));
    Ok((Status::Applied, note))
}
