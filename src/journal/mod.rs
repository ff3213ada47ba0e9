//! The write-ahead journal under setup, rollback and `iam apply`: before each side effect
//! its undo is persisted as an intent, after it the entry is marked done; every save is
//! atomic and fsynced through [`Host`]. A crash at any point leaves a journal that
//! [`Journal::unwind`] (newest first, going on past failures) can finish. One store serves
//! both the node journal ([`NodeJournal`]) and the IAM journal (`crate::iam`).

pub mod crash;
pub mod layout;
mod node;
mod report;
mod undo;

pub use crash::{CrashMode, CrashPoint, CRASH_MESSAGE};
pub use node::{sha256_hex, NodeJournal, NodeMeta, OwnershipRecord};
pub use report::{RollbackReport, Status, StepReport};
pub use undo::{Undo, UndoContext};

use crate::host::{Host, Ownership};
use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A change record: what undoing it does, in words, and whether that removes the
/// directory that holds the journal itself.
pub trait Change: Clone + PartialEq + Serialize + DeserializeOwned {
    fn describe(&self) -> String;
    /// Whether undoing this removes `journal_dir` (the journal file goes first then).
    fn holds_journal(&self, _journal_dir: &Path) -> bool {
        false
    }

    /// Whether this is undone after every other change, whatever its place in the journal
    /// (a service goes back to its earlier state only once its config is back).
    fn late(&self) -> bool {
        false
    }
}

/// The journal's header besides its entries (cluster, node, ...).
pub trait Meta: Serialize + DeserializeOwned {
    /// How errors name this journal: "journal", "IAM journal".
    const WHAT: &'static str;
    /// The store created the journal's directory (see [`StoreOwner::CurrentUser`]):
    /// remember it so a finished rollback removes it again.
    fn created_dir(&mut self, _dir: &Path) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// About to be done: may or may not have happened.
    Intent,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry<C> {
    pub state: EntryState,
    #[serde(flatten)]
    pub undo: C,
}

/// Who the journal file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreOwner {
    /// root, mode 0600: a node's journal; its directory is created (and journaled) by setup.
    #[default]
    Root,
    /// Whoever runs hakit (an administrator's machine for `iam apply`), mode 0600; a
    /// missing directory is created (0700) and remembered in the header.
    CurrentUser,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "M: Serialize, C: Serialize",
    deserialize = "M: DeserializeOwned, C: DeserializeOwned"
))]
pub struct Journal<M, C> {
    pub version: u32,
    #[serde(flatten)]
    pub meta: M,
    pub entries: Vec<Entry<C>>,
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(skip)]
    owner: StoreOwner,
    /// Test hook: end the run at a numbered journal event.
    #[serde(skip)]
    crash: Option<CrashPoint>,
    #[serde(skip)]
    events: usize,
}

impl<M: Meta, C: Change> Journal<M, C> {
    /// A new, empty journal (nothing written until the first change).
    pub fn new(path: PathBuf, meta: M, owner: StoreOwner) -> Self {
        Journal {
            version: 1,
            meta,
            entries: vec![],
            path,
            owner,
            crash: None,
            events: 0,
        }
    }

    /// The journal at `path`, or `None` when there is none.
    pub fn load(host: &dyn Host, path: &Path, owner: StoreOwner) -> anyhow::Result<Option<Self>> {
        let Some(bytes) = host.read(path)? else {
            return Ok(None);
        };
        let mut journal: Self = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "parsing the {} {} (do not edit it by hand)",
                M::WHAT,
                path.display()
            )
        })?;
        journal.path = path.to_path_buf();
        journal.owner = owner;
        Ok(Some(journal))
    }

    /// The directory holding the journal.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    /// Arm the test hook (see [`CrashPoint`]).
    pub fn crash_at(&mut self, point: Option<CrashPoint>) {
        self.crash = point;
    }

    /// Persist atomically (temporary file, fsync, rename, fsync the directory).
    pub fn save(&mut self, host: &dyn Host) -> anyhow::Result<()> {
        let owner = match self.owner {
            StoreOwner::Root => Ownership::root(0o600),
            StoreOwner::CurrentUser => {
                let dir = self.dir().to_path_buf();
                if !host.is_dir(&dir) {
                    create_private_dirs(host, &dir).with_context(|| {
                        format!(
                            "creating {} for the {} (run as root, or pass --state-dir with a directory you can write)",
                            dir.display(),
                            M::WHAT
                        )
                    })?;
                    self.meta.created_dir(&dir);
                }
                Ownership::current_user(0o600)?
            }
        };
        let bytes = serde_json::to_vec_pretty(self)
            .with_context(|| format!("serializing the {}", M::WHAT))?;
        host.write_atomic(&self.path, &bytes, &owner)
            .with_context(|| format!("saving the {} {}", M::WHAT, self.path.display()))
    }

    /// Record an intent and persist it; returns its index.
    pub fn intend(&mut self, host: &dyn Host, undo: C) -> anyhow::Result<usize> {
        self.entries.push(Entry {
            state: EntryState::Intent,
            undo,
        });
        self.save(host)?;
        let index = self.entries.len() - 1;
        self.event("after the intent", index)?;
        Ok(index)
    }

    /// Mark entry `index` done (its side effect happened) and persist it.
    pub fn done(&mut self, host: &dyn Host, index: usize) -> anyhow::Result<()> {
        self.event("after the side effect, before its done mark", index)?;
        if let Some(entry) = self.entries.get_mut(index) {
            entry.state = EntryState::Done;
        }
        self.save(host)
    }

    /// Reopen entry `index` as an intent with a new record (a file rewritten by a later
    /// setup, an id learnt after the create) and persist it.
    pub fn reopen(&mut self, host: &dyn Host, index: usize, undo: C) -> anyhow::Result<()> {
        if let Some(entry) = self.entries.get_mut(index) {
            entry.undo = undo;
            entry.state = EntryState::Intent;
        }
        self.save(host)?;
        self.event("after the intent", index)
    }

    /// Record a change that already happened (found done, or made before the journal could
    /// be written) unless it is recorded; an intent for it becomes done.
    pub fn record_done(&mut self, host: &dyn Host, undo: C) -> anyhow::Result<()> {
        match self.entries.iter().position(|e| e.undo == undo) {
            Some(i) if self.entries[i].state == EntryState::Done => Ok(()),
            Some(i) => self.done(host, i),
            None => {
                self.entries.push(Entry {
                    state: EntryState::Done,
                    undo,
                });
                self.save(host)
            }
        }
    }

    /// An intent for `undo`, reusing the entry an interrupted run left behind.
    pub fn intend_once(&mut self, host: &dyn Host, undo: C) -> anyhow::Result<usize> {
        match self.entries.iter().position(|e| e.undo == undo) {
            Some(i) => Ok(i),
            None => self.intend(host, undo),
        }
    }

    /// Record `undo` as done unless an entry holds it already: for undos that are right to
    /// run whether or not anything happened (a reload of a network manager).
    pub fn record_once(&mut self, host: &dyn Host, undo: C) -> anyhow::Result<()> {
        if self.entries.iter().any(|e| e.undo == undo) {
            return Ok(());
        }
        let index = self.intend(host, undo)?;
        self.done(host, index)
    }

    /// Drop an intent that turned out not to be ours to undo.
    pub fn forget(&mut self, host: &dyn Host, index: usize) -> anyhow::Result<()> {
        if self
            .entries
            .get(index)
            .is_some_and(|e| e.state == EntryState::Intent)
        {
            self.entries.remove(index);
            self.save(host)?;
        }
        Ok(())
    }

    /// What unwinding would undo, newest first, in words.
    pub fn pending(&self) -> Vec<String> {
        self.entries
            .iter()
            .rev()
            .map(|e| e.undo.describe())
            .collect()
    }

    /// Undo every entry, newest first (the [`Change::late`] ones after all others), with
    /// `run`. An entry undone leaves the journal at once; one that fails is reported and the
    /// rest still run. When nothing remains the journal file is removed.
    pub fn unwind(
        &mut self,
        host: &dyn Host,
        mut run: impl FnMut(&Entry<C>) -> anyhow::Result<()>,
    ) -> anyhow::Result<RollbackReport> {
        let mut report = RollbackReport::default();
        // Once the journal's own directory is removed there is no journal left to update.
        let mut journal_gone = false;
        // Newest first, the late ones after the rest; the entry that removes the journal's
        // own directory (and the older ones, its parents) only after all of them, so
        // nothing can remain once the journal is gone.
        let order: Vec<Entry<C>> = {
            let dir = self.dir().to_path_buf();
            let mut newest_first: Vec<Entry<C>> = self.entries.iter().rev().cloned().collect();
            let hold = newest_first
                .iter()
                .position(|e| e.undo.holds_journal(&dir))
                .unwrap_or(newest_first.len());
            let last = newest_first.split_off(hold);
            let (late, early): (Vec<_>, Vec<_>) =
                newest_first.into_iter().partition(|e| e.undo.late());
            early.into_iter().chain(late).chain(last).collect()
        };
        for entry in order {
            let what = entry.undo.describe();
            if entry.undo.holds_journal(self.dir()) {
                if !report.remaining.is_empty() {
                    report.remaining.push(format!(
                        "{what}: kept, it holds the journal of what remains"
                    ));
                    continue;
                }
                host.remove_file(&self.path)?;
                journal_gone = true;
            }
            match run(&entry) {
                Ok(()) => {
                    report.undone.push(what);
                    if let Some(i) = self.entries.iter().position(|e| *e == entry) {
                        self.entries.remove(i);
                    }
                    if !journal_gone {
                        self.save(host)?;
                    }
                }
                Err(err) => report.remaining.push(format!("{what}: {err:#}")),
            }
        }
        if report.remaining.is_empty() && !journal_gone {
            host.remove_file(&self.path)
                .with_context(|| format!("removing {}", self.path.display()))?;
        }
        Ok(report)
    }

    fn event(&mut self, point: &str, index: usize) -> anyhow::Result<()> {
        self.events += 1;
        match self.crash {
            Some(crash) if crash.event == self.events => {
                let what = self
                    .entries
                    .get(index)
                    .map(|e| e.undo.describe())
                    .unwrap_or_default();
                crash.fire(&format!("journal event {} ({point}: {what})", self.events))
            }
            _ => Ok(()),
        }
    }
}

/// Create `dir` and its missing parents, each 0700.
fn create_private_dirs(host: &dyn Host, dir: &Path) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    let mut d = Some(dir);
    while let Some(p) = d.filter(|p| !host.is_dir(p)) {
        missing.push(p);
        d = p.parent();
    }
    for p in missing.into_iter().rev() {
        host.create_dir(p, 0o700)?;
    }
    Ok(())
}
