//! Undo a journaled setup in reverse order, restoring what was there before. A failed undo
//! is reported and the rest still runs; what could not be undone stays in the journal.

use crate::apply::interface::InterfaceConfig;
use crate::host::{Host, Ownership};
use crate::journal::{sha256_hex, EntryState, Journal, Undo};
use anyhow::{bail, Context};
use hakit_cloud::Cloud;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize)]
pub struct RollbackReport {
    pub undone: Vec<String>,
    /// Each with the reason it was not undone.
    pub remaining: Vec<String>,
    /// `--discover` only: what hakit cannot tell apart from what was there before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_alone: Vec<String>,
}

pub fn describe(undo: &Undo) -> String {
    match undo {
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
        Undo::DisassociateEip {
            allocation_id,
            eni_id,
        } => format!("disassociate {allocation_id} if it is still on {eni_id} (never released)"),
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
        Undo::RemovePackages { packages, .. } => format!("remove packages {}", packages.join(", ")),
        Undo::DisableService { name } => format!("disable {name}"),
        Undo::RevertServiceState {
            name,
            was_active: true,
        } => format!("restart {name} on the restored config"),
        Undo::RevertServiceState {
            name,
            was_active: false,
        } => format!("stop {name}"),
    }
}

/// Roll back the journal in `state_dir`. `force` restores files changed since hakit wrote them.
/// `cloud` is needed only for journaled AWS changes; without it they are reported as remaining.
pub fn rollback(
    host: &dyn Host,
    cloud: Option<&dyn Cloud>,
    state_dir: &Path,
    force: bool,
) -> anyhow::Result<RollbackReport> {
    let path = Journal::path_in(state_dir);
    let Some(mut journal) = Journal::load(host, &path)? else {
        bail!("no journal at {}: nothing recorded to roll back (was setup run with this cluster file's paths.state_dir?); if setup ran and its state dir was lost, `hakit rollback --discover` finds hakit's files and ENI by their marks", path.display());
    };
    let mut report = RollbackReport::default();
    // Once the state dir itself is removed there is no journal left to update.
    let mut journal_gone = false;
    let mut i = journal.entries.len();
    while i > 0 {
        i -= 1;
        let entry = journal.entries[i].clone();
        let what = describe(&entry.undo);
        if matches!(&entry.undo, Undo::RemoveDir { path: dir } if dir.as_path() == state_dir) {
            if !report.remaining.is_empty() {
                // The journal must stay while anything remains.
                report.remaining.push(format!(
                    "{what}: kept, it holds the journal of what remains"
                ));
                continue;
            }
            host.remove_file(&journal.path)?;
            journal_gone = true;
        }
        match undo(host, cloud, &entry.undo, entry.state, force) {
            Ok(()) => {
                report.undone.push(what);
                journal.entries.remove(i);
                if !journal_gone {
                    journal.save(host)?;
                }
            }
            Err(err) => report.remaining.push(format!("{what}: {err:#}")),
        }
    }
    if report.remaining.is_empty() && !journal_gone {
        host.remove_file(&journal.path)?;
    }
    Ok(report)
}

/// Run undo entries found without a journal (`rollback --discover`), in the given order,
/// going on past failures.
pub fn run_entries(
    host: &dyn Host,
    cloud: Option<&dyn Cloud>,
    entries: &[Undo],
    force: bool,
) -> RollbackReport {
    let mut report = RollbackReport::default();
    for entry in entries {
        let what = describe(entry);
        match undo(host, cloud, entry, EntryState::Done, force) {
            Ok(()) => report.undone.push(what),
            Err(err) => report.remaining.push(format!("{what}: {err:#}")),
        }
    }
    report
}

/// Undo the write of one file right away (its entry leaves the journal): used when a new
/// config fails its validator, so the previous one is back before anything restarts.
pub fn restore_file_now(
    host: &dyn Host,
    journal: &mut Journal,
    path: &Path,
) -> anyhow::Result<bool> {
    let Some(index) = journal.file_entry(path) else {
        return Ok(false);
    };
    let entry = journal.entries[index].clone();
    undo(host, None, &entry.undo, entry.state, false)?;
    journal.entries.remove(index);
    journal.save(host)?;
    Ok(true)
}

/// Files hakit (or the proxy it configured) creates while running, in directories setup
/// created: notify's lock and sequence files, the failover log, stale unix sockets.
pub const RUNTIME_FILES: &[&str] = &["notify.lock", "notify.seq", "failover.log"];

fn remove_runtime_files(host: &dyn Host, dir: &Path) -> anyhow::Result<()> {
    for (name, socket) in host.list_dir(dir)? {
        if socket || RUNTIME_FILES.contains(&name.as_str()) {
            host.remove_file(&dir.join(&name))?;
        }
    }
    Ok(())
}

fn needs(cloud: Option<&dyn Cloud>) -> anyhow::Result<&dyn Cloud> {
    cloud.ok_or_else(|| anyhow::anyhow!("needs EC2 access (run rollback where the instance role or AWS credentials are available)"))
}

fn undo(
    host: &dyn Host,
    cloud: Option<&dyn Cloud>,
    undo: &Undo,
    state: EntryState,
    force: bool,
) -> anyhow::Result<()> {
    match undo {
        Undo::DeleteEni {
            cluster,
            node,
            eni_id,
        } => {
            let cloud = needs(cloud)?;
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
        Undo::DetachEni { eni_id } => Ok(needs(cloud)?.detach_eni(eni_id)?),
        Undo::UnconfigureInterface {
            interface,
            address,
            prefix,
            table,
        } => {
            // Each of these fails harmlessly when already undone (the interface may even be
            // gone with its detached ENI).
            for argv in InterfaceConfig::down_commands(interface, address, *prefix, *table) {
                host.run(&argv)?;
            }
            Ok(())
        }
        Undo::DisassociateEip {
            allocation_id,
            eni_id,
        } => {
            let cloud = needs(cloud)?;
            let address = cloud.address(allocation_id)?;
            // Only ours: an association another node holds now is left alone. Never released.
            if address.network_interface_id.as_deref() == Some(eni_id.as_str()) {
                if let Some(association) = &address.association_id {
                    cloud.disassociate_eip(association)?;
                }
            }
            Ok(())
        }
        Undo::RemoveDir { path } => {
            remove_runtime_files(host, path)?;
            if !host.remove_dir_if_empty(path)? {
                let mut names: Vec<String> =
                    host.list_dir(path)?.into_iter().map(|(n, _)| n).collect();
                names.sort();
                let hint = if names.iter().any(|n| n == crate::iam_role::JOURNAL_FILE) {
                    " (the journal of `hakit iam apply`: run `hakit iam rollback` first if the role should go too)"
                } else {
                    ""
                };
                let shown = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
                let more = names.len().saturating_sub(5);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                bail!(
                    "{} is not empty: {shown}{more}{hint}; left in place",
                    path.display()
                );
            }
            Ok(())
        }
        Undo::RestoreFile {
            path,
            backup,
            original,
            written_sha256,
        } => {
            let current = host.read(path)?;
            let ours =
                current.as_deref().map(sha256_hex).as_deref() == Some(written_sha256.as_str());
            if !ours && state == EntryState::Intent {
                // The write never happened: nothing to undo but the backup.
                if let Some(b) = backup {
                    host.remove_file(b)?;
                }
                return Ok(());
            }
            if !ours && current.is_some() && !force {
                let kept = backup
                    .as_ref()
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
        Undo::RemoveUser { name } => {
            if host.user_exists(name)? {
                host.remove_user(name)?;
            }
            Ok(())
        }
        Undo::RemovePackages { manager, packages } => {
            let mut installed = Vec::new();
            for p in packages {
                if host.package_installed(manager, p)? {
                    installed.push(p.clone());
                }
            }
            if !installed.is_empty() {
                host.remove_packages(manager, &installed)?;
            }
            Ok(())
        }
        Undo::DisableService { name } => host.systemctl("disable", name),
        Undo::RevertServiceState { name, was_active } => {
            if !host.has_systemd() {
                return Ok(());
            }
            host.systemctl(if *was_active { "restart" } else { "stop" }, name)
        }
    }
}
