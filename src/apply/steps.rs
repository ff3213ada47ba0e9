//! Each kind of plan step, applied: check whether it is already done, record its undo,
//! do it, mark it done. The larger bodies live beside this file (files, vendor
//! repository, AWS).

use super::cloud_steps::{self, AwsStep};
use super::{files, networkd, proxysql_runtime, vendor_repo, ApplyInput, StepResult};
use crate::host::Host;
use crate::journal::{NodeJournal, Status, Undo};
use crate::plan::Step;
use anyhow::{bail, Context};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub(super) fn apply_step(
    host: &dyn Host,
    journal: &mut NodeJournal,
    input: &ApplyInput<'_>,
    step: &Step,
) -> StepResult {
    let done = |s| Ok((s, None));
    match step {
        Step::AddVendorRepository {
            name,
            manager,
            files,
            problem,
            packages,
        } => vendor_repo::add(
            host,
            journal,
            vendor_repo::Repo {
                name,
                manager: *manager,
                files,
                problem: problem.as_deref(),
                packages,
            },
        ),
        Step::InstallPackages { manager, packages } => {
            let manager = manager.context("the distro was not detected (no usable /etc/os-release), so hakit does not know whether apt, dnf or yum installs packages here")?;
            let mut missing = Vec::new();
            for p in packages {
                if !host.package_installed(manager, p)? {
                    missing.push(p.clone());
                }
            }
            if missing.is_empty() {
                return done(Status::AlreadyDone);
            }
            let packages_before = host.installed_packages(manager)?;
            let accounts_before = host.accounts()?;
            let leftovers = leftovers_of(host, &missing);
            let index = journal.intend(
                host,
                Undo::RemovePackages {
                    manager,
                    packages: missing.clone(),
                    users: vec![],
                    groups: vec![],
                    leftovers: leftovers.clone(),
                },
            )?;
            host.install_packages(manager, &missing)?;
            // Everything the install brought (dependencies, the users and groups its scripts
            // made) is undone with it; what was there before is never touched.
            let new = |before: &BTreeSet<String>, after: BTreeSet<String>| -> Vec<String> {
                after.difference(before).cloned().collect()
            };
            let pulled = new(&packages_before, host.installed_packages(manager)?);
            let accounts = host.accounts()?;
            let mut packages = missing.clone();
            packages.extend(pulled.into_iter().filter(|p| !missing.contains(p)));
            let deps = packages.len() - missing.len();
            journal.entries[index].undo = Undo::RemovePackages {
                manager,
                packages,
                users: new(&accounts_before.users, accounts.users),
                groups: new(&accounts_before.groups, accounts.groups),
                leftovers,
            };
            journal.done(host, index)?;
            let with = match deps {
                0 => String::new(),
                n => format!(" (and {n} dependencies)"),
            };
            Ok((
                Status::Applied,
                Some(format!("installed {}{with}", missing.join(", "))),
            ))
        }
        Step::CreateUser { name } => {
            if host.user_exists(name)? {
                return done(Status::AlreadyDone);
            }
            let index = journal.intend(host, Undo::RemoveUser { name: name.clone() })?;
            host.create_system_user(name)?;
            journal.done(host, index)?;
            done(Status::Applied)
        }
        Step::CreateDirectory { path, mode } => {
            let mode = u32::from_str_radix(mode, 8).context("directory mode")?;
            if host.is_dir(path) {
                return done(Status::AlreadyDone);
            }
            files::ensure_dir(host, journal, path, mode)?;
            done(Status::Applied)
        }
        Step::InstallClusterFile { path, bytes } => {
            files::write_file(host, journal, path, bytes, &files::public())
        }
        Step::InstallSecrets { path, bytes } => {
            files::write_file(host, journal, path, bytes, &files::secret())
        }
        Step::CreateEni { .. }
        | Step::AttachEni { .. }
        | Step::ConfigureEni { .. }
        | Step::AssociateElasticIp { .. }
            if input.skip_cloud =>
        {
            Ok((Status::Skipped, Some("--skip-cloud".into())))
        }
        Step::CreateEni { node, .. } => {
            cloud_steps::create_eni(host, journal, &AwsStep::of(input)?, node)
        }
        Step::AttachEni { node } => {
            cloud_steps::attach_eni(host, journal, &AwsStep::of(input)?, node)
        }
        Step::ConfigureEni { node, persist, .. } => {
            cloud_steps::configure_eni(host, journal, &AwsStep::of(input)?, node, *persist)
        }
        Step::AssociateElasticIp {
            allocation_id,
            node,
        } => cloud_steps::associate_eip(host, journal, &AwsStep::of(input)?, node, allocation_id),
        Step::WriteFile { file, reloads } => {
            let (status, note) = files::write_rendered(host, journal, file)?;
            if let (Status::Applied, Some(service)) = (status, reloads) {
                if journal.meta.reload_due.insert(service.clone()) {
                    journal.save(host)?;
                }
            }
            Ok((status, note))
        }
        Step::LoadProxysqlRuntime { service, batch, .. } => {
            proxysql_runtime::load(host, journal, input, service, batch)
        }
        Step::KeepAddresses { interface, what } => {
            networkd::keep_addresses(host, journal, input, interface, what)
        }
        Step::ValidateFile { path, command } => {
            let out = host.run(command)?;
            if !out.success {
                // Nothing has been restarted yet: put the previous config back at once.
                let restored = journal.restore_file_now(host, path)?;
                bail!(
                    "{} failed validation with `{}` (exit {:?}):\n{}\n{}",
                    path.display(),
                    command.join(" "),
                    out.code,
                    out.output.trim_end(),
                    if restored {
                        "the previous version was put back"
                    } else {
                        "the file was not written by this setup"
                    }
                );
            }
            done(Status::Checked)
        }
        Step::EnableService { service } => {
            if input.no_start {
                return Ok((Status::Skipped, Some("--no-start".into())));
            }
            require_systemd(host)?;
            if host.service_enabled(service)? {
                return done(Status::AlreadyDone);
            }
            let index = journal.intend(
                host,
                Undo::DisableService {
                    name: service.clone(),
                },
            )?;
            host.systemctl("enable", service)?;
            journal.done(host, index)?;
            done(Status::Applied)
        }
        Step::RestartService {
            service, reload, ..
        } => {
            if input.no_start {
                return Ok((Status::Skipped, Some("--no-start".into())));
            }
            require_systemd(host)?;
            let active = host.service_active(service)?;
            let due = journal.meta.reload_due.contains(service);
            if active && !due {
                return Ok((
                    Status::AlreadyDone,
                    Some("running, its configuration unchanged: left alone".into()),
                ));
            }
            // A change ProxySQL takes through its admin interface (the next step): no
            // restart, which would drop every client connection and ignore the change.
            let live =
                input.plan.steps.iter().any(
                    |s| matches!(s, Step::LoadProxysqlRuntime { service: s, .. } if s == service),
                );
            if active && live {
                return Ok((
                    Status::AlreadyDone,
                    Some("running: its changed configuration is loaded live next".into()),
                ));
            }
            let recorded = journal.entries.iter().any(
                |e| matches!(&e.undo, Undo::RevertServiceState { name, .. } if name == service),
            );
            let index = if recorded {
                None
            } else {
                Some(journal.intend(
                    host,
                    Undo::RevertServiceState {
                        name: service.clone(),
                        was_active: active,
                    },
                )?)
            };
            let mut verb = if active && *reload {
                "reload"
            } else {
                "restart"
            };
            if let Err(err) = host.systemctl(verb, service) {
                if verb != "reload" {
                    return Err(err);
                }
                // A unit whose reload cannot run here (Debian's haproxy unit reloads with
                // /bin/kill, absent from minimal images) still gets its new config.
                errln!("warning: reloading {service} failed ({err:#}); restarting it");
                verb = "restart";
                host.systemctl(verb, service)?;
            }
            // Started: a ProxySQL that ran before kept its database and ignored the file;
            // the change is still due for the live load.
            if !live {
                journal.meta.reload_due.remove(service);
            }
            match index {
                Some(index) => journal.done(host, index)?,
                None => journal.save(host)?,
            }
            let note = match (active, verb) {
                (false, _) => "started",
                (true, "reload") => "reloaded: its configuration changed",
                _ => "restarted: its configuration changed",
            };
            Ok((Status::Applied, Some(note.into())))
        }
    }
}

/// Files a package's daemon writes at run time, outside what its package owns, so that
/// purging the package leaves them (keepalived 2.3, Debian 13, registers its address
/// protocol for iproute2).
const RUNTIME_FILES: &[(&str, &str)] = &[
    (
        "keepalived",
        "/etc/iproute2/rt_addrprotos.d/keepalived.conf",
    ),
    ("keepalived", "/etc/iproute2/rt_protos.d/keepalived.conf"),
];

/// Of the run-time files of `packages`, those not there now, each followed by its parent
/// directories that are not there either (deepest first): what rollback removes.
fn leftovers_of(host: &dyn Host, packages: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (_, file) in RUNTIME_FILES
        .iter()
        .filter(|(p, _)| packages.iter().any(|m| m == p))
    {
        let file = Path::new(file);
        if host.read(file).ok().flatten().is_some() {
            continue;
        }
        out.push(file.to_path_buf());
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| !host.is_dir(d)) {
            if !out.iter().any(|p| p == d) {
                out.push(d.to_path_buf());
            }
            dir = d.parent();
        }
    }
    out
}

fn require_systemd(host: &dyn Host) -> anyhow::Result<()> {
    if host.has_systemd() {
        Ok(())
    } else {
        bail!("systemd is not running here, so services cannot be enabled or started: run setup with --no-start to write and validate everything without starting services")
    }
}
