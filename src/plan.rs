//! The ordered steps `setup` takes on one node. Pure: built from the cluster, this node,
//! the profile, the distro and the rendered files; `hakit plan` prints it, `setup` applies it.

use crate::config::{Cluster, Mode};
use crate::facts::{Distro, Family};
use crate::profile::Profile;
use crate::render::{validate_command, FileKind, RenderedFile};
use crate::role::{Role, Target};
use crate::vendor_repo::{self, RepoFile};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Step {
    /// Add the vendor's package repository where the distro has no package (ProxySQL).
    AddVendorRepository {
        name: String,
        manager: String,
        /// The files that add it, written only if the package is not available otherwise.
        files: Vec<RepoFile>,
        /// Why the files cannot be made here (distro facts, profile fields): an error only
        /// if the repository turns out to be needed.
        #[serde(skip_serializing_if = "Option::is_none")]
        problem: Option<String>,
    },
    InstallPackages {
        manager: String,
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
    },
    InstallSecrets {
        path: PathBuf,
    },
    CreateEni {
        node: String,
        security_group_ids: Vec<String>,
    },
    AttachEni {
        node: String,
    },
    ConfigureEni {
        node: String,
    },
    AssociateElasticIp {
        allocation_id: String,
        node: String,
    },
    WriteFile {
        path: PathBuf,
        kind: FileKind,
        mode: String,
        owner: String,
        group: String,
    },
    ValidateFile {
        path: PathBuf,
        command: Vec<String>,
    },
    EnableService {
        service: String,
    },
    RestartService {
        service: String,
    },
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
                "install packages with {manager}: {}",
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
            Step::InstallClusterFile { path } => {
                write!(f, "install the cluster file as {}", path.display())
            }
            Step::InstallSecrets { path } => write!(
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
            Step::ConfigureEni { node } => {
                write!(f, "configure the ENI's interface on {node}: address and policy routing so replies leave through it")
            }
            Step::AssociateElasticIp {
                allocation_id,
                node,
            } => {
                write!(f, "associate Elastic IP {allocation_id} with {node}'s ENI (reassociation allowed, read back)")
            }
            Step::WriteFile {
                path,
                kind,
                mode,
                owner,
                group,
            } => {
                write!(
                    f,
                    "write {} ({}, {mode} {owner}:{group})",
                    path.display(),
                    kind_name(*kind)
                )
            }
            Step::ValidateFile { path, command } => write!(
                f,
                "validate {} with `{}`",
                path.display(),
                command.join(" ")
            ),
            Step::EnableService { service } => write!(f, "enable {service} at boot"),
            Step::RestartService { service } => {
                write!(f, "restart {service} with the new configuration")
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
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub cluster: String,
    pub node: String,
    pub role: Role,
    pub mode: &'static str,
    pub profile: String,
    pub package_manager: String,
    pub steps: Vec<Step>,
    /// Things setup will need that are not there yet (e.g. the secrets file).
    pub warnings: Vec<String>,
    /// With `--preflight`: whether EC2 allows each action setup and notify need.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preflight: Vec<Permission>,
}

/// What EC2's DryRun said about one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// `DryRunOperation`: the call would have been allowed.
    Allowed,
    /// `UnauthorizedOperation`: the identity lacks the permission.
    Denied,
    /// Any other answer (a placeholder resource not found, a network error): no verdict.
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct Permission {
    /// The IAM action, e.g. `ec2:AttachNetworkInterface`.
    pub action: String,
    /// True only for [`Verdict::Allowed`].
    pub allowed: bool,
    pub verdict: Verdict,
    /// Which hakit command needs it, and for what.
    pub used_for: String,
    /// Why there is no verdict (EC2's answer), for [`Verdict::Unknown`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What to do, for a denied or unknown action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

pub struct PlanInput<'a> {
    pub cluster: &'a Cluster,
    pub target: &'a Target,
    pub profile: &'a Profile,
    pub distro: Option<&'a Distro>,
    pub files: &'a [RenderedFile],
    pub warnings: Vec<String>,
}

pub fn build(input: PlanInput<'_>) -> Plan {
    let PlanInput {
        cluster,
        target,
        profile,
        distro,
        files,
        warnings,
    } = input;
    let manager = distro
        .and_then(Distro::package_manager)
        .unwrap_or("apt or dnf (distro not detected)")
        .to_string();
    let packages = match distro.and_then(|d| d.family) {
        Some(Family::Rhel) => profile.packages.rhel.clone(),
        _ => profile.packages.debian.clone(),
    };
    let mut steps = Vec::new();
    if let Some(repo) = &profile.vendor_repo {
        let (files, problem) =
            match vendor_repo::files(repo, &manager, distro.and_then(|d| d.codename.as_deref())) {
                Ok(files) => (files, None),
                Err(problem) => (vec![], Some(problem)),
            };
        steps.push(Step::AddVendorRepository {
            name: repo.name.clone(),
            manager: manager.clone(),
            files,
            problem,
        });
    }
    steps.push(Step::InstallPackages {
        manager: manager.clone(),
        packages,
    });
    steps.push(Step::CreateUser {
        name: "keepalived_script".into(),
    });
    let p = &cluster.paths;
    for (dir, mode) in [
        (&p.config_dir, "0755"),
        (&p.state_dir, "0700"),
        (&p.script_dir, "0755"),
        (&p.log_dir, "0750"),
        (&p.run_dir, "0755"),
    ] {
        steps.push(Step::CreateDirectory {
            path: dir.clone(),
            mode: mode.to_string(),
        });
    }
    steps.push(Step::InstallClusterFile {
        path: cluster.paths.cluster_file(),
    });
    steps.push(Step::InstallSecrets {
        path: cluster.paths.secrets_file(),
    });
    if let Mode::AwsEip(aws) = &cluster.mode {
        let node = target.node.name.clone();
        steps.push(Step::CreateEni {
            node: node.clone(),
            security_group_ids: aws.security_group_ids.clone(),
        });
        steps.push(Step::AttachEni { node: node.clone() });
        steps.push(Step::ConfigureEni { node: node.clone() });
        if target.role == Role::Master {
            steps.push(Step::AssociateElasticIp {
                allocation_id: aws.eip_allocation_id.clone(),
                node,
            });
        }
    }
    for file in files {
        steps.push(Step::WriteFile {
            path: file.path.clone(),
            kind: file.kind,
            mode: file.mode_string(),
            owner: file.owner.clone(),
            group: file.group.clone(),
        });
    }
    for file in files.iter().filter(|f| !f.validate.is_empty()) {
        steps.push(Step::ValidateFile {
            path: file.path.clone(),
            command: validate_command(file, &file.path),
        });
    }
    for service in [profile.service.as_str(), "keepalived"] {
        steps.push(Step::EnableService {
            service: service.to_string(),
        });
        steps.push(Step::RestartService {
            service: service.to_string(),
        });
    }
    Plan {
        cluster: cluster.name.clone(),
        node: target.node.name.clone(),
        role: target.role,
        mode: cluster.mode.name(),
        profile: profile.name.clone(),
        package_manager: manager,
        steps,
        warnings,
        preflight: vec![],
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Plan for node {} ({}) of cluster {}: {}, profile {}, {} steps",
            self.node,
            self.role.as_str(),
            self.cluster,
            self.mode,
            self.profile,
            self.steps.len()
        )?;
        let width = self.steps.len().to_string().len();
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "  {:>width$}. {step}", i + 1)?;
        }
        if !self.preflight.is_empty() {
            writeln!(f, "Preflight (EC2 DryRun):")?;
            for p in &self.preflight {
                let verdict = match p.verdict {
                    Verdict::Allowed => "allowed".to_string(),
                    Verdict::Denied => {
                        format!("DENIED, missing from the instance role ({})", p.used_for)
                    }
                    Verdict::Unknown => format!(
                        "unknown, could not check ({}): {}",
                        p.used_for,
                        p.error.as_deref().unwrap_or("no verdict from EC2")
                    ),
                };
                writeln!(f, "  {}: {verdict}", p.action)?;
                if let Some(fix) = &p.fix {
                    writeln!(f, "      fix: {fix}")?;
                }
            }
            let count = |v| self.preflight.iter().filter(|p| p.verdict == v).count();
            writeln!(
                f,
                "  {} allowed, {} denied, {} unknown of {} actions",
                count(Verdict::Allowed),
                count(Verdict::Denied),
                count(Verdict::Unknown),
                self.preflight.len()
            )?;
        }
        Ok(())
    }
}
