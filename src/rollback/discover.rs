//! `hakit rollback --discover`: when the journal is lost, find what setup left behind by its
//! marks (the "Managed by hakit" header in files, the `hakit:cluster`/`hakit:node` tags on
//! the ENI) and turn it into the undo entries rollback runs. What hakit cannot tell apart
//! from what was there before (packages, the keepalived_script user, services, the
//! installed cluster and secrets files) is reported and left alone. The Elastic IP is only
//! ever disassociated from this node's ENI, never released.

use crate::config::{Cluster, Mode};
use crate::host::Host;
use crate::journal::{layout, sha256_hex, OwnershipRecord, Undo};
use crate::render::eni_persist::EniPersist;
use crate::render::{eni_unit, MARKER};
use hakit_cloud::Cloud;
use std::path::{Path, PathBuf};

/// What discovery found: undo entries in the order to run them, and what it leaves alone.
#[derive(Debug, Default)]
pub struct Discovery {
    pub entries: Vec<Undo>,
    pub left_alone: Vec<String>,
}

/// Where to look.
pub struct Scope<'a> {
    pub cluster: &'a Cluster,
    pub node: &'a str,
    /// The profile's proxy config directory (or the cluster's override).
    pub proxy_config_dir: &'a Path,
    pub proxy_service: &'a str,
    /// Directories holding package sources (apt's sources.list.d, yum.repos.d).
    pub package_source_dirs: &'a [PathBuf],
}

/// Whether the file's first lines carry hakit's header.
fn marked(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    String::from_utf8_lossy(head)
        .lines()
        .take(3)
        .any(|l| l.contains(MARKER))
}

/// Regular files directly in `dir` that carry the marker, sorted by name.
fn marked_files(host: &dyn Host, dir: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    if !host.is_dir(dir) {
        return Ok(vec![]);
    }
    let mut names = host.list_dir(dir)?;
    names.sort();
    let mut found = Vec::new();
    for (name, socket) in names {
        let path = dir.join(&name);
        if socket || host.is_dir(&path) {
            continue;
        }
        if let Some(bytes) = host.read(&path)? {
            if marked(&bytes) {
                found.push((path, bytes));
            }
        }
    }
    Ok(found)
}

/// Undo of one marked file: put back the backup setup took (if it is still in the state
/// dir, under the name `write_file` gives it), otherwise remove the file.
fn restore_or_remove(
    host: &dyn Host,
    backups: &Path,
    path: &Path,
    bytes: &[u8],
) -> anyhow::Result<Undo> {
    let backup = layout::backup_of(backups, path);
    let found = host.read(&backup)?.is_some();
    Ok(Undo::RestoreFile {
        path: path.to_path_buf(),
        backup: found.then_some(backup),
        // The original owner and mode were in the lost journal: keep the current ones.
        original: host.ownership(path)?.as_ref().map(OwnershipRecord::from),
        written_sha256: sha256_hex(bytes),
        previous_sha256: None,
    })
}

/// The undo of the interface configuration a file hakit wrote in form `persist` describes.
fn interface_undo(
    host: &dyn Host,
    persist: EniPersist,
    text: &str,
) -> anyhow::Result<Option<Undo>> {
    let Some(facts) = persist.parse(text) else {
        return Ok(None);
    };
    // The interface may be gone with its ENI; the rule and table are removed regardless.
    let interface = host.interface_by_mac(&facts.mac)?.unwrap_or(facts.mac);
    Ok(Some(Undo::UnconfigureInterface {
        interface,
        address: facts.address,
        prefix: facts.prefix,
        table: facts.table,
    }))
}

/// The key file the (first uncommented) apt source line names with `signed-by=`.
fn signed_by(list: &str) -> Option<PathBuf> {
    list.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(crate::vendor_repo::signed_by)
}

pub fn discover(
    host: &dyn Host,
    cloud: Option<&dyn Cloud>,
    scope: &Scope<'_>,
) -> anyhow::Result<Discovery> {
    let cluster = scope.cluster;
    let paths = &cluster.paths;
    let backups = layout::backups(&paths.state_dir);
    let mut d = Discovery::default();

    // Newest first, as setup did them: the rendered files...
    let mut seen = Vec::new();
    for dir in [
        &paths.keepalived_dir,
        &paths.script_dir,
        &scope.proxy_config_dir.to_path_buf(),
    ] {
        for (path, bytes) in marked_files(host, dir)? {
            if !seen.contains(&path) {
                d.entries
                    .push(restore_or_remove(host, &backups, &path, &bytes)?);
                seen.push(path);
            }
        }
    }
    // ...the runtime directory's tmpfiles.d entry...
    let tmpfiles = paths
        .tmpfiles_dir
        .join(format!("hakit-{}.conf", cluster.name));
    for (path, bytes) in marked_files(host, &paths.tmpfiles_dir)? {
        if path == tmpfiles {
            d.entries
                .push(restore_or_remove(host, &backups, &path, &bytes)?);
        }
    }
    // ...the ENI's interface and its networkd unit...
    for (path, bytes) in marked_files(host, &paths.network_dir)? {
        let unit = String::from_utf8_lossy(&bytes).into_owned();
        if !unit.contains(&eni_unit::owner(&cluster.name, scope.node)) {
            continue;
        }
        d.entries
            .push(restore_or_remove(host, &backups, &path, &bytes)?);
        if let Some(undo) = interface_undo(host, EniPersist::Networkd, &unit)? {
            d.entries.push(undo);
        }
    }
    // ...or its NetworkManager connection (NM told to forget it) or ifupdown stanza (the
    // interface taken down while ifupdown still knows it)...
    let owner = eni_unit::owner(&cluster.name, scope.node);
    for persist in [EniPersist::NetworkManager, EniPersist::Ifupdown] {
        let path = persist.path(paths, &cluster.name, "");
        let Some(dir) = path.parent() else { continue };
        for (found, bytes) in marked_files(host, dir)? {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if found != path || !text.contains(&owner) {
                continue;
            }
            let undo = interface_undo(host, persist, &text)?;
            if let (EniPersist::Ifupdown, Some(Undo::UnconfigureInterface { interface, .. })) =
                (persist, &undo)
            {
                d.entries.push(Undo::IfdownInterface {
                    interface: interface.clone(),
                });
            }
            d.entries
                .push(restore_or_remove(host, &backups, &found, &bytes)?);
            if persist == EniPersist::NetworkManager {
                d.entries.push(Undo::ReloadNetworkManager);
            }
            d.entries.extend(undo);
        }
    }
    // ...the drop-ins that keep keepalived's addresses on a networkd link, then networkd
    // told to read its files again...
    let mut dropins = false;
    if host.is_dir(&paths.network_dir) {
        let mut names = host.list_dir(&paths.network_dir)?;
        names.sort();
        for (name, _) in names.into_iter().filter(|(n, _)| n.ends_with(".network.d")) {
            let dir = paths.network_dir.join(&name);
            let ours = format!("hakit-{}.conf", cluster.name);
            for (path, bytes) in marked_files(host, &dir)? {
                let owner = eni_unit::owner(&cluster.name, scope.node);
                if path.file_name() == Some(ours.as_ref())
                    && String::from_utf8_lossy(&bytes).contains(&owner)
                {
                    d.entries
                        .push(restore_or_remove(host, &backups, &path, &bytes)?);
                    // amazon-ec2-net-utils' unit's drop-in holds the ENI's configuration.
                    let text = String::from_utf8_lossy(&bytes);
                    d.entries
                        .extend(interface_undo(host, EniPersist::Ec2NetUtils, &text)?);
                    // The directory goes too when the drop-in is all it holds.
                    if host.list_dir(&dir)?.len() == 1 {
                        d.entries.push(Undo::RemoveDir { path: dir.clone() });
                    }
                    dropins = true;
                }
            }
        }
    }
    if dropins {
        d.entries.push(Undo::ReloadNetworkd);
    }
    // ...the ENI itself, found by its tags (its Elastic IP association goes with it)...
    if matches!(cluster.mode, Mode::AwsEip(_)) {
        match cloud {
            Some(cloud) => {
                for eni in cloud.find_enis(&cluster.name, Some(scope.node))? {
                    d.entries.push(Undo::DeleteEni {
                        cluster: cluster.name.clone(),
                        node: scope.node.to_string(),
                        eni_id: Some(eni.id),
                    });
                }
            }
            None => d.left_alone.push(format!(
                "{}'s ENI (tagged hakit:cluster={}): no EC2 access to look for it",
                scope.node, cluster.name
            )),
        }
    }
    // ...hakit's own directories (each removed only if nothing else is in it)...
    for dir in [
        &paths.run_dir,
        &paths.log_dir,
        &paths.script_dir,
        &backups,
        &paths.state_dir,
    ] {
        if host.is_dir(dir) {
            d.entries.push(Undo::RemoveDir { path: dir.clone() });
        }
    }
    // ...and the vendor repository it added.
    for dir in scope.package_source_dirs {
        for (path, bytes) in marked_files(host, dir)? {
            if let Some(key) = signed_by(&String::from_utf8_lossy(&bytes)) {
                if let Some(key_bytes) = host.read(&key)? {
                    d.entries.push(Undo::RestoreFile {
                        written_sha256: sha256_hex(&key_bytes),
                        previous_sha256: None,
                        original: None,
                        backup: None,
                        path: key,
                    });
                }
            }
            d.entries
                .push(restore_or_remove(host, &backups, &path, &bytes)?);
        }
    }

    d.left_alone.push(format!(
        "packages (keepalived, {}) and the keepalived_script user: without the journal hakit cannot tell whether it installed them; remove them by hand if they were not there before",
        scope.proxy_service
    ));
    d.left_alone.push(format!(
        "services keepalived and {}: still running as they are; restart them to load the restored configs, or stop them",
        scope.proxy_service
    ));
    for file in [paths.cluster_file(), paths.secrets_file()] {
        if host.read(&file)?.is_some() {
            d.left_alone.push(format!(
                "{}: the installed copy may be the file you ran this with; remove it by hand",
                file.display()
            ));
        }
    }
    Ok(d)
}
