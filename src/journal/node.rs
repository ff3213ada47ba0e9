//! The node journal of `hakit setup`: its header (cluster, node, the run id that tags the
//! ENI), how it is opened in the state dir, and the file-specific look-ups apply needs.

use super::{layout, Journal, Meta, StoreOwner, Undo, UndoContext};
use crate::host::{Host, Ownership};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMeta {
    pub cluster: String,
    pub node: String,
    /// Random id of the setup that started this journal (the `hakit:run` tag).
    #[serde(default)]
    pub run: String,
    /// Services whose config setup changed and that have not loaded it yet.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub reload_due: BTreeSet<String>,
}

impl Meta for NodeMeta {
    const WHAT: &'static str = "journal";
}

/// The journal of one node's setup, in `<state_dir>/journal.json`.
pub type NodeJournal = Journal<NodeMeta, Undo>;

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

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Journal<NodeMeta, Undo> {
    /// The journal in `state_dir`, if setup wrote one.
    pub fn load_in(host: &dyn Host, state_dir: &Path) -> anyhow::Result<Option<Self>> {
        Self::load(host, &layout::journal(state_dir), StoreOwner::Root)
    }

    /// The journal in `state_dir`, or a new empty one with a fresh run id.
    pub fn open(
        host: &dyn Host,
        state_dir: &Path,
        cluster: &str,
        node: &str,
    ) -> anyhow::Result<Self> {
        match Self::load_in(host, state_dir)? {
            Some(journal) => Ok(journal),
            None => Ok(Journal::new(
                layout::journal(state_dir),
                NodeMeta {
                    cluster: cluster.into(),
                    node: node.into(),
                    run: crate::secrets::random_token(12)?.to_lowercase(),
                    reload_due: BTreeSet::new(),
                },
                StoreOwner::Root,
            )),
        }
    }

    pub fn backups_dir(&self) -> PathBuf {
        layout::backups(self.dir())
    }

    /// The entry of the file setup wrote at `path`, if any.
    pub fn file_entry(&self, path: &Path) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| matches!(&e.undo, Undo::RestoreFile { path: p, .. } if p == path))
    }

    /// Undo the write of one file right away (its entry leaves the journal): used when a
    /// new config fails its validator, so the previous one is back before anything restarts.
    pub fn restore_file_now(&mut self, host: &dyn Host, path: &Path) -> anyhow::Result<bool> {
        let Some(index) = self.file_entry(path) else {
            return Ok(false);
        };
        let entry = self.entries[index].clone();
        let ctx = UndoContext {
            host,
            cloud: None,
            force: false,
        };
        entry.undo.run(&ctx, entry.state)?;
        self.entries.remove(index);
        self.save(host)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Entry, EntryState};

    /// The on-disk form is a contract: a journal written by an earlier release must be read
    /// (and rolled back) by this one. Each kind of entry, pinned.
    #[test]
    fn node_journal_entries_round_trip_as_pinned_json() {
        let cases = [
            (
                Undo::RemoveDir {
                    path: "/var/lib/hakit".into(),
                },
                r#"{"state":"done","undo":"remove-dir","path":"/var/lib/hakit"}"#,
            ),
            (
                Undo::RestoreFile {
                    path: "/etc/keepalived/keepalived.conf".into(),
                    backup: Some("/var/lib/hakit/backups/etc%keepalived%keepalived.conf".into()),
                    original: Some(OwnershipRecord {
                        mode: 0o644,
                        owner: "root".into(),
                        group: "root".into(),
                    }),
                    written_sha256: "ab".into(),
                    previous_sha256: None,
                },
                r#"{"state":"done","undo":"restore-file","path":"/etc/keepalived/keepalived.conf","backup":"/var/lib/hakit/backups/etc%keepalived%keepalived.conf","original":{"mode":420,"owner":"root","group":"root"},"written_sha256":"ab"}"#,
            ),
            (
                Undo::RemoveUser {
                    name: "keepalived_script".into(),
                },
                r#"{"state":"done","undo":"remove-user","name":"keepalived_script"}"#,
            ),
            (
                Undo::RemovePackages {
                    manager: crate::distro::PackageManager::Apt,
                    packages: vec!["keepalived".into()],
                    users: vec![],
                    groups: vec![],
                    leftovers: vec![],
                },
                r#"{"state":"done","undo":"remove-packages","manager":"apt","packages":["keepalived"]}"#,
            ),
            (
                Undo::DisableService {
                    name: "haproxy".into(),
                },
                r#"{"state":"done","undo":"disable-service","name":"haproxy"}"#,
            ),
            (
                Undo::RevertServiceState {
                    name: "haproxy".into(),
                    was_active: false,
                },
                r#"{"state":"done","undo":"revert-service-state","name":"haproxy","was_active":false}"#,
            ),
            (
                Undo::DeleteEni {
                    cluster: "demo".into(),
                    node: "n1".into(),
                    eni_id: None,
                },
                r#"{"state":"done","undo":"delete-eni","cluster":"demo","node":"n1","eni_id":null}"#,
            ),
            (
                Undo::DetachEni {
                    eni_id: "eni-1".into(),
                },
                r#"{"state":"done","undo":"detach-eni","eni_id":"eni-1"}"#,
            ),
            (
                Undo::UnconfigureInterface {
                    interface: "ens6".into(),
                    address: "192.0.2.10".into(),
                    prefix: 24,
                    table: 10001,
                },
                r#"{"state":"done","undo":"unconfigure-interface","interface":"ens6","address":"192.0.2.10","prefix":24,"table":10001}"#,
            ),
            (
                Undo::ReloadNetworkd,
                r#"{"state":"done","undo":"reload-networkd"}"#,
            ),
            (
                Undo::RestoreProxysqlRuntime {
                    service: "proxysql".into(),
                    snapshot: "/var/lib/hakit/proxysql-before.json".into(),
                },
                r#"{"state":"done","undo":"restore-proxysql-runtime","service":"proxysql","snapshot":"/var/lib/hakit/proxysql-before.json"}"#,
            ),
            (
                Undo::ReloadNetworkManager,
                r#"{"state":"done","undo":"reload-network-manager"}"#,
            ),
            (
                Undo::IfdownInterface {
                    interface: "ens6".into(),
                },
                r#"{"state":"done","undo":"ifdown-interface","interface":"ens6"}"#,
            ),
            (
                Undo::DisassociateEip {
                    allocation_id: "eipalloc-1".into(),
                    eni_id: "eni-1".into(),
                },
                r#"{"state":"done","undo":"disassociate-eip","allocation_id":"eipalloc-1","eni_id":"eni-1"}"#,
            ),
        ];
        for (undo, json) in cases {
            let entry = Entry {
                state: EntryState::Done,
                undo,
            };
            assert_eq!(serde_json::to_string(&entry).expect("json"), json);
            assert_eq!(
                serde_json::from_str::<Entry<Undo>>(json).expect("parse"),
                entry
            );
        }
    }

    #[test]
    fn the_header_keeps_its_fields_in_order() {
        let mut journal = NodeJournal::new(
            "/var/lib/hakit/journal.json".into(),
            NodeMeta {
                cluster: "demo".into(),
                node: "n1".into(),
                run: "abc".into(),
                reload_due: BTreeSet::new(),
            },
            StoreOwner::Root,
        );
        journal.entries.push(Entry {
            state: EntryState::Intent,
            undo: Undo::RemoveUser { name: "x".into() },
        });
        let text = serde_json::to_string(&journal).expect("json");
        assert_eq!(
            text,
            r#"{"version":1,"cluster":"demo","node":"n1","run":"abc","entries":[{"state":"intent","undo":"remove-user","name":"x"}]}"#
        );
        let back: NodeJournal = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.entries, journal.entries);
        assert_eq!(back.meta, journal.meta);
    }
}
