//! The node journal's change records, each with how it is described and how it is undone,
//! side by side (rustup's `ChangedItem::roll_back`). Every undo is safe to repeat: a target
//! that is already gone counts as undone.

use super::{layout, sha256_hex, Change, EntryState, OwnershipRecord};
use crate::host::{interface::InterfaceConfig, Host, Ownership, PackageManager};
use anyhow::{bail, Context};
use hakit_cloud::Cloud;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
        /// While a later setup rewrites the file (an intent): the content the earlier one
        /// wrote, also hakit's, so a crash before the rewrite still restores the backup.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_sha256: Option<String>,
    },
    RemoveUser {
        name: String,
    },
    /// Purge the packages setup installed, with the dependencies that came with them, then
    /// the users and groups their scripts created.
    RemovePackages {
        manager: PackageManager,
        packages: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        users: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        groups: Vec<String>,
        /// Files the packages' daemons create at run time (and the directories made for
        /// them) that were not there before: removed after the purge, directories only
        /// when empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        leftovers: Vec<PathBuf>,
    },
    DisableService {
        name: String,
    },
    /// Stop it if it was not running before, otherwise restart it on the restored config.
    /// Undone after every other change, so its config is back first.
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
    /// Have systemd-networkd read its files again (after rollback removed a drop-in), if it
    /// runs. Recorded before the drop-in is written, so it is undone after it is removed.
    ReloadNetworkd,
    /// Have NetworkManager read its connection files again (after rollback removed the
    /// ENI's keyfile), if it runs. Recorded before the keyfile is written.
    ReloadNetworkManager,
    /// `ifdown` the ENI's interface while its ifupdown stanza is still there, so ifupdown
    /// runs its `down` commands and forgets the interface. Recorded after the stanza.
    IfdownInterface {
        interface: String,
    },
    /// Put back, through ProxySQL's admin interface, the configuration `snapshot` (a
    /// root-only file in the state dir) holds, if `service` runs; then remove the file.
    RestoreProxysqlRuntime {
        service: String,
        snapshot: PathBuf,
    },
    /// Disassociate the Elastic IP if (and only if) it is still on this ENI. Never release it.
    DisassociateEip {
        allocation_id: String,
        eni_id: String,
    },
}

/// What undoing needs: the host, EC2 for the AWS changes (`None`: they remain), and
/// whether files changed since hakit wrote them are restored anyway.
pub struct UndoContext<'a> {
    pub host: &'a dyn Host,
    pub cloud: Option<&'a dyn Cloud>,
    pub force: bool,
}

impl UndoContext<'_> {
    fn cloud(&self) -> anyhow::Result<&dyn Cloud> {
        self.cloud.ok_or_else(|| anyhow::anyhow!("needs EC2 access (run rollback where the instance role or AWS credentials are available)"))
    }
}

impl Change for Undo {
    fn describe(&self) -> String {
        match self {
            Undo::RemoveDir { path } => format!("remove directory {}", path.display()),
            Undo::RestoreFile {
                path,
                backup: Some(_),
                ..
            } => format!("restore {}", path.display()),
            Undo::RestoreFile {
                path, backup: None, ..
            } => format!("remove {}", path.display()),
            Undo::RemoveUser { name } => format!("remove user {name}"),
            Undo::RemovePackages { packages, .. } => {
                format!("remove packages {}", packages.join(", "))
            }
            Undo::DisableService { name } => format!("disable {name}"),
            Undo::RevertServiceState {
                name,
                was_active: true,
            } => format!("restart {name} on the restored config"),
            Undo::RevertServiceState {
                name,
                was_active: false,
            } => format!("stop {name}"),
            Undo::DeleteEni {
                node,
                eni_id: Some(id),
                ..
            } => format!("delete {node}'s ENI {id}"),
            Undo::DeleteEni {
                node, eni_id: None, ..
            } => format!("delete {node}'s ENI (found by its tags)"),
            Undo::DetachEni { eni_id } => format!("detach ENI {eni_id}"),
            Undo::UnconfigureInterface {
                interface, address, ..
            } => format!("remove {address} and its policy routing from {interface}"),
            Undo::ReloadNetworkd => {
                "have systemd-networkd read its configuration again (networkctl reload)".into()
            }
            Undo::ReloadNetworkManager => {
                "have NetworkManager read its connections again (nmcli connection reload)".into()
            }
            Undo::IfdownInterface { interface } => {
                format!("take {interface} down through ifupdown (ifdown)")
            }
            Undo::RestoreProxysqlRuntime { service, .. } => {
                format!("put back the configuration the running {service} had (admin interface)")
            }
            Undo::DisassociateEip {
                allocation_id,
                eni_id,
            } => {
                format!("disassociate {allocation_id} if it is still on {eni_id} (never released)")
            }
        }
    }

    fn holds_journal(&self, journal_dir: &Path) -> bool {
        matches!(self, Undo::RemoveDir { path } if path == journal_dir)
    }

    /// Services go back to their earlier state once their config is back; the system user
    /// goes after them, when no check script can still be running as it.
    fn late(&self) -> bool {
        matches!(
            self,
            Undo::RevertServiceState { .. } | Undo::RemoveUser { .. }
        )
    }
}

impl Undo {
    /// Whether undoing needs EC2.
    pub fn needs_cloud(&self) -> bool {
        matches!(
            self,
            Undo::DeleteEni { .. } | Undo::DetachEni { .. } | Undo::DisassociateEip { .. }
        )
    }

    /// Undo this change. `state` says whether its side effect surely happened (`Done`) or
    /// may not have (`Intent`, after a crash).
    pub fn run(&self, ctx: &UndoContext<'_>, state: EntryState) -> anyhow::Result<()> {
        let host = ctx.host;
        match self {
            Undo::RemoveDir { path } => remove_dir(host, path),
            Undo::RestoreFile {
                path,
                backup,
                original,
                written_sha256,
                previous_sha256,
            } => {
                let ours = [Some(written_sha256), previous_sha256.as_ref()];
                restore_file(
                    ctx,
                    state,
                    path,
                    backup.as_deref(),
                    original.as_ref(),
                    &ours,
                )
            }
            Undo::RemoveUser { name } => {
                if host.user_exists(name)? {
                    host.remove_user(name)?;
                }
                Ok(())
            }
            Undo::RemovePackages {
                manager,
                packages,
                users,
                groups,
                leftovers,
            } => {
                let installed = host.installed_packages(*manager)?;
                let ours: Vec<String> = packages
                    .iter()
                    .filter(|p| installed.contains(*p))
                    .cloned()
                    .collect();
                if !ours.is_empty() {
                    host.remove_packages(*manager, &ours)?;
                }
                // What the packages' scripts created and their purge left behind.
                let accounts = host.accounts()?;
                for user in users.iter().filter(|u| accounts.users.contains(*u)) {
                    host.remove_user(user)?;
                }
                let accounts = host.accounts()?;
                for group in groups.iter().filter(|g| accounts.groups.contains(*g)) {
                    host.remove_group(group)?;
                }
                let (mut dirs, files): (Vec<&PathBuf>, Vec<&PathBuf>) =
                    leftovers.iter().partition(|p| host.is_dir(p));
                for file in files {
                    host.remove_file(file)?;
                }
                // Deepest first, so a parent is empty by the time its turn comes.
                dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
                for dir in dirs {
                    host.remove_dir_if_empty(dir)?;
                }
                Ok(())
            }
            // A unit that is gone (its package removed) is already disabled and stopped.
            Undo::DisableService { name } => {
                if !host.has_systemd() || !host.service_exists(name)? {
                    return Ok(());
                }
                host.systemctl("disable", name)
            }
            Undo::RevertServiceState { name, was_active } => {
                if !host.has_systemd() || !host.service_exists(name)? {
                    return Ok(());
                }
                host.systemctl(if *was_active { "restart" } else { "stop" }, name)
            }
            Undo::DeleteEni {
                cluster,
                node,
                eni_id,
            } => {
                let cloud = ctx.cloud()?;
                let ids: Vec<String> = match eni_id {
                    Some(id) => vec![id.clone()],
                    // The create may have happened before its id was journaled: find it by tag.
                    None => cloud
                        .find_enis(cluster, Some(node))?
                        .into_iter()
                        .map(|e| e.id)
                        .collect(),
                };
                for id in ids {
                    // An Elastic IP that failed over to this ENI after setup goes with it:
                    // disassociated, never released.
                    for address in cloud.addresses_on(&id)? {
                        if let Some(association) = &address.association_id {
                            cloud.disassociate_eip(association)?;
                        }
                    }
                    cloud.detach_eni(&id)?;
                    cloud.delete_eni(&id)?;
                }
                Ok(())
            }
            Undo::DetachEni { eni_id } => Ok(ctx.cloud()?.detach_eni(eni_id)?),
            Undo::ReloadNetworkd => {
                if host.service_running("systemd-networkd")? {
                    host.run_ok(&["networkctl", "reload"])?;
                }
                Ok(())
            }
            Undo::ReloadNetworkManager => {
                if host.service_running("NetworkManager")? {
                    host.run_ok(&["nmcli", "connection", "reload"])?;
                }
                Ok(())
            }
            Undo::IfdownInterface { interface } => {
                // Not configured, gone with its ENI, or ifupdown itself gone: nothing for
                // ifdown to do, and what is left of the configuration UnconfigureInterface
                // removes next.
                let _ = host.run_str(&["ifdown", "--force", interface]);
                Ok(())
            }
            Undo::RestoreProxysqlRuntime { service, snapshot } => {
                // Recorded before the file is written: no file, nothing was loaded.
                let Some(bytes) = host.read(snapshot)? else {
                    return Ok(());
                };
                let batch: crate::render::proxysql_runtime::AdminBatch =
                    serde_json::from_slice(&bytes)
                        .with_context(|| format!("reading {}", snapshot.display()))?;
                // Not running: what it loads at its next start is the database the
                // restored proxysql.cnf does not change; nothing can be put back now.
                if host.service_running(service)? {
                    host.sql(batch.port, &batch.user, &batch.password, &batch.statements)
                        .with_context(|| format!("putting back {service}'s configuration"))?;
                }
                host.remove_file(snapshot)
            }
            Undo::UnconfigureInterface {
                interface,
                address,
                prefix,
                table,
            } => {
                // Each of these fails harmlessly when already undone (the interface may even
                // be gone with its detached ENI). The rule may be there twice: hakit's, and
                // a network manager's own copy (NetworkManager adds one beside it): deleted
                // until none is left.
                for argv in InterfaceConfig::down_commands(interface, address, *prefix, *table) {
                    let tries = if argv.get(1).map(String::as_str) == Some("rule") {
                        4
                    } else {
                        1
                    };
                    for _ in 0..tries {
                        if !host.run(&argv)?.success {
                            break;
                        }
                    }
                }
                Ok(())
            }
            Undo::DisassociateEip {
                allocation_id,
                eni_id,
            } => {
                let cloud = ctx.cloud()?;
                let address = cloud.address(allocation_id)?;
                // Only ours: an association another node holds now is left alone. Never released.
                if address.network_interface_id.as_deref() == Some(eni_id.as_str()) {
                    if let Some(association) = &address.association_id {
                        cloud.disassociate_eip(association)?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Remove a directory setup created, with the files hakit itself creates there while
/// running; a directory someone else put files in stays, and the error names them.
fn remove_dir(host: &dyn Host, path: &Path) -> anyhow::Result<()> {
    for (name, socket) in host.list_dir(path)? {
        if socket || layout::RUNTIME_FILES.contains(&name.as_str()) {
            host.remove_file(&path.join(&name))?;
        }
    }
    if host.remove_dir_if_empty(path)? {
        return Ok(());
    }
    let mut names: Vec<String> = host.list_dir(path)?.into_iter().map(|(n, _)| n).collect();
    names.sort();
    let hint = if names.iter().any(|n| n == layout::IAM_JOURNAL_FILE) {
        " (the journal of `hakit iam apply`: run `hakit iam rollback` first if the role should go too)"
    } else {
        ""
    };
    let shown = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    let more = match names.len().saturating_sub(5) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    bail!(
        "{} is not empty: {shown}{more}{hint}; left in place",
        path.display()
    )
}

fn restore_file(
    ctx: &UndoContext<'_>,
    state: EntryState,
    path: &Path,
    backup: Option<&Path>,
    original: Option<&OwnershipRecord>,
    hakit_wrote: &[Option<&String>],
) -> anyhow::Result<()> {
    let host = ctx.host;
    let current = host.read(path)?;
    let sha = current.as_deref().map(sha256_hex);
    let ours = sha.is_some()
        && hakit_wrote
            .iter()
            .flatten()
            .any(|w| Some(*w) == sha.as_ref());
    if !ours && state == EntryState::Intent {
        // The write never happened: nothing to undo but the backup (if it was taken).
        if let Some(b) = backup {
            host.remove_file(b)?;
        }
        return Ok(());
    }
    if !ours && current.is_some() && !ctx.force {
        let kept = backup
            .map(|b| format!("; the version from before setup is in {}", b.display()))
            .unwrap_or_default();
        bail!(
            "{} was changed after hakit wrote it: not touched without --force{kept}",
            path.display()
        );
    }
    match (backup, original) {
        (Some(b), Some(o)) => {
            let bytes = host
                .read(b)?
                .with_context(|| format!("the backup {} is missing", b.display()))?;
            host.write_atomic(path, &bytes, &Ownership::from(o))?;
            host.remove_file(b)?;
        }
        _ => host.remove_file(path)?,
    }
    Ok(())
}
