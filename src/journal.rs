//! The write-ahead journal of a setup: before each side effect its undo is recorded as an
//! intent, after it the entry is marked done; every change is persisted atomically. A
//! crash at any point leaves a journal `rollback` can finish.

use crate::host::{Host, Ownership};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "journal.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// About to be done: may or may not have happened.
    Intent,
    Done,
}

/// How to undo one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "kebab-case")]
pub enum Undo {
    RemoveDir {
        path: PathBuf,
    },
    /// Put back the file's earlier bytes (from `backup`) or remove it if there were none.
    RestoreFile {
        path: PathBuf,
        backup: Option<PathBuf>,
        original: Option<OwnershipRecord>,
        written_sha256: String,
    },
    RemoveUser {
        name: String,
    },
    RemovePackages {
        manager: String,
        packages: Vec<String>,
    },
    DisableService {
        name: String,
    },
    /// Stop it if it was not running before, otherwise restart it on the restored config.
    RevertServiceState {
        name: String,
        was_active: bool,
    },
    /// Delete the node's dedicated ENI: by id, or by its tags when the create was
    /// interrupted before the id could be recorded.
    DeleteEni {
        cluster: String,
        node: String,
        eni_id: Option<String>,
    },
    DetachEni {
        eni_id: String,
    },
    /// Remove the address, policy rule and routing table given to the ENI's interface.
    UnconfigureInterface {
        interface: String,
        address: String,
        prefix: u8,
        table: u32,
    },
    /// Disassociate the Elastic IP if (and only if) it is still on this ENI. Never release it.
    DisassociateEip {
        allocation_id: String,
        eni_id: String,
    },
}

impl Undo {
    /// Whether undoing needs EC2.
    pub fn needs_cloud(&self) -> bool {
        matches!(
            self,
            Undo::DeleteEni { .. } | Undo::DetachEni { .. } | Undo::DisassociateEip { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipRecord {
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

impl From<&Ownership> for OwnershipRecord {
    fn from(o: &Ownership) -> Self {
        OwnershipRecord {
            mode: o.mode,
            owner: o.owner.clone(),
            group: o.group.clone(),
        }
    }
}

impl From<&OwnershipRecord> for Ownership {
    fn from(o: &OwnershipRecord) -> Self {
        Ownership {
            mode: o.mode,
            owner: o.owner.clone(),
            group: o.group.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub state: EntryState,
    #[serde(flatten)]
    pub undo: Undo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    pub cluster: String,
    pub node: String,
    /// Random id of the setup that started this journal (the `hakit:run` tag).
    #[serde(default)]
    pub run: String,
    pub entries: Vec<Entry>,
    #[serde(skip)]
    pub path: PathBuf,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Journal {
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE_NAME)
    }

    pub fn backups_dir(&self) -> PathBuf {
        Self::backups_in(self.path.parent().unwrap_or(Path::new("/")))
    }

    /// Where setup keeps the earlier versions of the files it replaced.
    pub fn backups_in(state_dir: &Path) -> PathBuf {
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

    /// The journal in `state_dir`, or a new empty one.
    pub fn open(
        host: &dyn Host,
        state_dir: &Path,
        cluster: &str,
        node: &str,
    ) -> anyhow::Result<Self> {
        let path = Self::path_in(state_dir);
        match Self::load(host, &path)? {
            Some(journal) => Ok(journal),
            None => Ok(Journal {
                version: 1,
                cluster: cluster.into(),
                node: node.into(),
                run: crate::secrets::random_token(12)?.to_lowercase(),
                entries: vec![],
                path,
            }),
        }
    }

    pub fn load(host: &dyn Host, path: &Path) -> anyhow::Result<Option<Self>> {
        let Some(bytes) = host.read(path)? else {
            return Ok(None);
        };
        let mut journal: Journal = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "parsing the journal {} (do not edit it by hand)",
                path.display()
            )
        })?;
        journal.path = path.to_path_buf();
        Ok(Some(journal))
    }

    pub fn save(&self, host: &dyn Host) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).context("serializing the journal")?;
        let owner = Ownership::root(0o600);
        host.write_atomic(&self.path, &bytes, &owner)
            .with_context(|| format!("saving the journal {}", self.path.display()))
    }

    /// Record an intent and persist it; returns its index.
    pub fn intend(&mut self, host: &dyn Host, undo: Undo) -> anyhow::Result<usize> {
        self.entries.push(Entry {
            state: EntryState::Intent,
            undo,
        });
        self.save(host)?;
        Ok(self.entries.len() - 1)
    }

    pub fn done(&mut self, host: &dyn Host, index: usize) -> anyhow::Result<()> {
        if let Some(entry) = self.entries.get_mut(index) {
            entry.state = EntryState::Done;
        }
        self.save(host)
    }

    pub fn file_entry(&self, path: &Path) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| matches!(&e.undo, Undo::RestoreFile { path: p, .. } if p == path))
    }
}
