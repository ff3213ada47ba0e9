//! One step of a plan, carrying everything applying it needs (a file step holds its
//! rendered file, the cluster and secrets steps the bytes that were validated). Shown by
//! `hakit plan`; secrets and file contents are never serialized.

use crate::host::PackageManager;
use crate::render::eni_persist::EniPersist;
use crate::render::proxysql_runtime::AdminBatch;
use crate::render::{FileKind, RenderedFile};
use crate::vendor_repo::RepoFile;
use serde::{Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Step {
    /// Add the vendor's package repository where the distro has no package (ProxySQL).
    AddVendorRepository {
        name: String,
        #[serde(serialize_with = "manager_name")]
        manager: Option<PackageManager>,
        /// The files that add it, written only if a package is not available otherwise.
        files: Vec<RepoFile>,
        /// Why the files cannot be made here (distro facts, profile fields): an error only
        /// if the repository turns out to be needed.
        #[serde(skip_serializing_if = "Option::is_none")]
        problem: Option<String>,
        /// The packages that may need it (those of the install step).
        #[serde(skip)]
        packages: Vec<String>,
    },
    InstallPackages {
        #[serde(serialize_with = "manager_name")]
        manager: Option<PackageManager>,
        packages: Vec<String>,
    },
    CreateUser {
        name: String,
    },
    CreateDirectory {
        path: PathBuf,
        mode: String,
    },
    InstallClusterFile {
        path: PathBuf,
        /// The cluster file's text as it was validated.
        #[serde(skip)]
        bytes: Vec<u8>,
    },
    InstallSecrets {
        path: PathBuf,
        /// The secrets file's text as it was checked; never shown.
        #[serde(skip)]
        bytes: Vec<u8>,
    },
    CreateEni {
        node: String,
        security_group_ids: Vec<String>,
    },
    AttachEni {
        node: String,
    },
    /// Configure the ENI's interface now, and keep it in the form `persist` of the network
    /// manager found (`network_stack`), in `file`.
    ConfigureEni {
        node: String,
        network_stack: String,
        persist: EniPersist,
        file: PathBuf,
    },
    AssociateElasticIp {
        allocation_id: String,
        node: String,
    },
    /// Write a rendered file (shown as its path, kind, mode and owner; never its contents).
    /// When it changes, the service named in `reloads` is due a reload (kept in the
    /// journal until done, so a crash in between cannot lose it).
    #[serde(serialize_with = "file_summary")]
    WriteFile {
        file: RenderedFile,
        reloads: Option<String>,
    },
    ValidateFile {
        path: PathBuf,
        command: Vec<String>,
    },
    /// Where systemd-networkd manages `interface`, tell it (a drop-in for the link's
    /// `.network` file) to keep the address keepalived adds there (`what`) when it
    /// configures the link again.
    KeepAddresses {
        interface: String,
        what: String,
    },
    /// Where ProxySQL runs and its config changed: load the change through its admin
    /// interface (it reads proxysql.cnf only into a new database), no restart.
    LoadProxysqlRuntime {
        service: String,
        port: u16,
        /// The statements, with passwords: never shown.
        #[serde(skip)]
        batch: AdminBatch,
    },
    EnableService {
        service: String,
    },
    /// Start the service if it is not running; if it runs and one of its config files
    /// changed since it last loaded them, reload it (or restart it, where it cannot
    /// reload). A re-run that changed nothing leaves it alone: no restart, no failover.
    RestartService {
        service: String,
        /// The files the service reads its configuration from.
        configs: Vec<PathBuf>,
        /// Whether `systemctl reload` applies a new config (keepalived, haproxy).
        reload: bool,
    },
}

/// What a plan says when the distro (and so its package manager) was not detected.
pub const UNKNOWN_MANAGER: &str = "apt or dnf (distro not detected)";

pub(super) fn manager_name<S: Serializer>(
    m: &Option<PackageManager>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.map_or(UNKNOWN_MANAGER, PackageManager::as_str))
}

fn file_summary<S: Serializer>(
    file: &RenderedFile,
    _reloads: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Summary<'a> {
        path: &'a PathBuf,
        kind: FileKind,
        mode: String,
        owner: &'a str,
        group: &'a str,
    }
    Summary {
        path: &file.path,
        kind: file.kind,
        mode: file.mode_string(),
        owner: &file.owner,
        group: &file.group,
    }
    .serialize(s)
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::AddVendorRepository {
                name,
                manager,
                files,
                ..
            } => {
                let manager = manager.map_or(UNKNOWN_MANAGER, PackageManager::as_str);
                write!(f, "add the {name} vendor repository ({manager}) if the distro has no {name} package")?;
                if !files.is_empty() {
                    let paths: Vec<String> =
                        files.iter().map(|f| f.path.display().to_string()).collect();
                    write!(f, ": {}", paths.join(", "))?;
                }
                Ok(())
            }
            Step::InstallPackages { manager, packages } => write!(
                f,
                "install packages with {}: {}",
                manager.map_or(UNKNOWN_MANAGER, PackageManager::as_str),
                packages.join(", ")
            ),
            Step::CreateUser { name } => write!(
                f,
                "create system user {name} (no login) for keepalived's scripts"
            ),
            Step::CreateDirectory { path, mode } => write!(
                f,
                "create directory {} ({mode} root:root) if missing",
                path.display()
            ),
            Step::InstallClusterFile { path, .. } => {
                write!(f, "install the cluster file as {}", path.display())
            }
            Step::InstallSecrets { path, .. } => write!(
                f,
                "install the secrets file as {} (0600 root)",
                path.display()
            ),
            Step::CreateEni {
                node,
                security_group_ids,
            } => {
                write!(
                    f,
                    "create {node}'s dedicated ENI in its subnet, tagged hakit:cluster/node/run"
                )?;
                if !security_group_ids.is_empty() {
                    write!(f, " (security groups {})", security_group_ids.join(", "))?;
                }
                Ok(())
            }
            Step::AttachEni { node } => write!(
                f,
                "attach the ENI to {node} at a free device index and wait until attached"
            ),
            Step::ConfigureEni {
                node,
                network_stack,
                persist,
                file,
            } => {
                write!(f, "configure the ENI's interface on {node}: address and policy routing so replies leave through it; kept across reboots as {} ({network_stack} found): {}", persist.describe(), file.display())
            }
            Step::AssociateElasticIp {
                allocation_id,
                node,
            } => {
                write!(f, "associate Elastic IP {allocation_id} with {node}'s ENI (reassociation allowed, read back)")
            }
            Step::WriteFile { file, .. } => write!(
                f,
                "write {} ({}, {} {}:{})",
                file.path.display(),
                kind_name(file.kind),
                file.mode_string(),
                file.owner,
                file.group
            ),
            Step::ValidateFile { path, command } => write!(
                f,
                "validate {} with `{}`",
                path.display(),
                command.join(" ")
            ),
            Step::KeepAddresses { interface, what } => write!(
                f,
                "keep {what} on {interface} when systemd-networkd configures it again (a drop-in for its .network file, where networkd manages {interface})"
            ),
            Step::LoadProxysqlRuntime { service, port, .. } => write!(
                f,
                "if {service} runs and its config changed: load servers, users and query rules into it through its admin interface (127.0.0.1:{port}), saved to its database, without a restart"
            ),
            Step::EnableService { service } => write!(f, "enable {service} at boot"),
            Step::RestartService {
                service,
                configs,
                reload,
            } => {
                write!(f, "start {service} if it is not running")?;
                if !configs.is_empty() {
                    let paths: Vec<String> =
                        configs.iter().map(|p| p.display().to_string()).collect();
                    let how = if *reload { "reload" } else { "restart" };
                    write!(f, "; {how} it if {} changed", paths.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::KeepalivedConf => "keepalived config",
        FileKind::NotifyScript => "notify script",
        FileKind::ReconcileScript => "reconcile script",
        FileKind::CheckScript => "health check",
        FileKind::ProxyConfig => "proxy config",
        FileKind::NetworkUnit => "network unit",
        FileKind::NetworkDropIn => "network drop-in",
        FileKind::Tmpfiles => "runtime directory at boot",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_step_shows_its_summary_and_never_its_contents() {
        let step = Step::WriteFile {
            reloads: Some("keepalived".into()),
            file: RenderedFile {
                path: "/etc/keepalived/keepalived.conf".into(),
                kind: FileKind::KeepalivedConf,
                mode: 0o600,
                owner: "root".into(),
                group: "root".into(),
                validate: vec![],
                contents: "auth_pass s3cret".into(),
            },
        };
        let json = serde_json::to_string(&step).expect("json");
        assert_eq!(
            json,
            r#"{"action":"write-file","path":"/etc/keepalived/keepalived.conf","kind":"keepalived-conf","mode":"0600","owner":"root","group":"root"}"#
        );
        let secrets = Step::InstallSecrets {
            path: "/etc/hakit/secrets.toml".into(),
            bytes: b"vrrp_auth = \"s3cret\"".to_vec(),
        };
        let json = serde_json::to_string(&secrets).expect("json");
        assert!(!json.contains("s3cret"), "{json}");
    }
}
