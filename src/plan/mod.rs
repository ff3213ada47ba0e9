//! The ordered steps `setup` takes on one node. Pure: built from the cluster, this node,
//! the profile, the distro and the rendered files; `hakit plan` prints it, `setup` applies it.

mod step;

pub use step::{Step, UNKNOWN_MANAGER};

use crate::config::{Cluster, Mode, ModeKind};
use crate::distro::{Distro, Family};
use crate::host::PackageManager;
use crate::netstack::NetStack;
use crate::preflight::{Permission, Verdict};
use crate::profile::Profile;
use crate::render::proxysql_runtime::AdminBatch;
use crate::render::{validate_command, FileKind, RenderedFile};
use crate::role::{Role, Target};
use crate::vendor_repo;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub cluster: String,
    pub node: String,
    pub role: Role,
    pub mode: ModeKind,
    pub profile: String,
    #[serde(serialize_with = "step::manager_name")]
    pub package_manager: Option<PackageManager>,
    pub steps: Vec<Step>,
    /// Things setup will need that are not there yet (e.g. the secrets file).
    pub warnings: Vec<String>,
    /// With `--preflight`: whether EC2 allows each action setup and notify need.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preflight: Vec<Permission>,
    /// What each backend needs before the proxy can watch it (ProxySQL's monitor user),
    /// as SQL with the password left for the operator to fill in from the secrets file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backend_sql: Vec<String>,
}

pub struct PlanInput<'a> {
    pub cluster: &'a Cluster,
    /// The cluster file's text as validated, and the secrets file's as checked: what the
    /// install steps write.
    pub cluster_bytes: &'a [u8],
    pub secrets_bytes: &'a [u8],
    pub target: &'a Target,
    pub profile: &'a Profile,
    pub distro: Option<&'a Distro>,
    /// The network manager that owns this host's interfaces: how the ENI's configuration
    /// is kept (aws-eip).
    pub netstack: NetStack,
    /// ProxySQL profiles: the configuration as admin-interface statements.
    pub proxysql_runtime: Option<AdminBatch>,
    pub files: &'a [RenderedFile],
    pub warnings: Vec<String>,
}

pub fn build(input: PlanInput<'_>) -> Plan {
    let PlanInput {
        cluster,
        cluster_bytes,
        secrets_bytes,
        target,
        profile,
        distro,
        netstack,
        proxysql_runtime,
        files,
        warnings,
    } = input;
    let manager = distro.and_then(Distro::package_manager);
    let packages = match distro.and_then(|d| d.family) {
        Some(Family::Rhel) => profile.packages.rhel.clone(),
        _ => profile.packages.debian.clone(),
    };
    let mut steps = Vec::new();
    if let Some(repo) = &profile.vendor_repo {
        let (files, problem) =
            match vendor_repo::files(repo, manager, distro.and_then(|d| d.codename.as_deref())) {
                Ok(files) => (files, None),
                Err(problem) => (vec![], Some(problem)),
            };
        steps.push(Step::AddVendorRepository {
            name: repo.name.clone(),
            manager,
            files,
            problem,
            packages: packages.clone(),
        });
    }
    steps.push(Step::InstallPackages { manager, packages });
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
        bytes: cluster_bytes.to_vec(),
    });
    steps.push(Step::InstallSecrets {
        path: cluster.paths.secrets_file(),
        bytes: secrets_bytes.to_vec(),
    });
    if let Mode::AwsEip(aws) = &cluster.mode {
        let node = target.node.name.clone();
        steps.push(Step::CreateEni {
            node: node.clone(),
            security_group_ids: aws.security_group_ids.clone(),
        });
        steps.push(Step::AttachEni { node: node.clone() });
        let persist = netstack.eni_persist();
        steps.push(Step::ConfigureEni {
            node: node.clone(),
            network_stack: netstack.as_str().to_string(),
            persist,
            file: persist.path(&cluster.paths, &cluster.name, "<interface>"),
        });
        if target.role == Role::Master {
            steps.push(Step::AssociateElasticIp {
                allocation_id: aws.eip_allocation_id.clone(),
                node,
            });
        }
    }
    for file in files {
        let reloads = match file.kind {
            FileKind::KeepalivedConf => Some("keepalived".to_string()),
            FileKind::ProxyConfig => Some(profile.service.clone()),
            _ => None,
        };
        steps.push(Step::WriteFile {
            file: file.clone(),
            reloads,
        });
    }
    for file in files.iter().filter(|f| !f.validate.is_empty()) {
        steps.push(Step::ValidateFile {
            path: file.path.clone(),
            command: validate_command(file, &file.path),
        });
    }
    // Before keepalived starts adding it: networkd must not drop the address keepalived
    // adds (the VIP, or aws-eip's marker on lo) when it configures the link again.
    steps.push(match &cluster.mode {
        Mode::L2Vip(vip) => Step::KeepAddresses {
            interface: vip.interface.clone(),
            what: format!("the virtual IP {}/{}", vip.address, vip.prefix),
        },
        Mode::AwsEip(_) => Step::KeepAddresses {
            interface: "lo".into(),
            what: format!(
                "the VRRP master marker {}/32",
                cluster.vrrp.marker_address()
            ),
        },
    });
    let configs = |kind: FileKind| -> Vec<PathBuf> {
        files
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.path.clone())
            .collect()
    };
    for (service, configs, reload) in [
        (
            profile.service.as_str(),
            configs(FileKind::ProxyConfig),
            profile.reload,
        ),
        // keepalived reloads on SIGHUP (the unit's ExecReload), keeping its VRRP state.
        ("keepalived", configs(FileKind::KeepalivedConf), true),
    ] {
        steps.push(Step::EnableService {
            service: service.to_string(),
        });
        steps.push(Step::RestartService {
            service: service.to_string(),
            configs,
            reload,
        });
        // After the start: a ProxySQL that had run before ignores proxysql.cnf at start.
        if let Some(batch) = proxysql_runtime
            .as_ref()
            .filter(|_| service == profile.service)
        {
            steps.push(Step::LoadProxysqlRuntime {
                service: service.to_string(),
                port: batch.port,
                batch: batch.clone(),
            });
        }
    }
    Plan {
        cluster: cluster.name.clone(),
        node: target.node.name.clone(),
        role: target.role,
        mode: cluster.mode.kind(),
        profile: profile.name.clone(),
        package_manager: manager,
        steps,
        warnings,
        preflight: vec![],
        backend_sql: if proxysql_runtime.is_some() {
            crate::render::proxysql_runtime::monitor_grants()
        } else {
            vec![]
        },
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
        if !self.backend_sql.is_empty() {
            writeln!(f, "On every backend, once (as an administrator):")?;
            for sql in &self.backend_sql {
                writeln!(f, "  {sql}")?;
            }
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
