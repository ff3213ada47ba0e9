//! Apply a plan on the host through the write-ahead journal. A step already satisfied is
//! skipped, so running setup twice changes nothing the second time.

mod cloud_steps;
pub mod interface;

use crate::config::Cluster;
use crate::host::{Host, Ownership};
use crate::journal::{sha256_hex, Entry, EntryState, Journal, OwnershipRecord, Undo};
use crate::plan::{Plan, Step};
use crate::render::RenderedFile;
use crate::vendor_repo::{RepoFile, RepoSource};
use anyhow::{bail, Context};
use hakit_cloud::{Cloud, NodeFacts};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Applied,
    /// A check that changes nothing (a validator) passed.
    Checked,
    AlreadyDone,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub struct ApplyInput<'a> {
    pub plan: &'a Plan,
    pub cluster: &'a Cluster,
    /// EC2, for the AWS steps (`None` with --skip-cloud or in l2-vip mode).
    pub cloud: Option<&'a dyn Cloud>,
    /// This instance, from IMDS.
    pub facts: Option<&'a NodeFacts>,
    pub files: &'a [RenderedFile],
    pub cluster_bytes: &'a [u8],
    pub secrets_bytes: &'a [u8],
    pub state_dir: &'a Path,
    /// Write and validate everything, start nothing.
    pub no_start: bool,
    /// Leave out the AWS steps (ENI, Elastic IP).
    pub skip_cloud: bool,
    /// Test hook: stop the process with SIGKILL right after step k (1-based) is journaled.
    pub crash_after: Option<usize>,
}

/// Where `apply` reports each step: as it starts and when it is done.
pub trait Progress {
    /// Step `index` (0-based) of `total` begins.
    fn start(&mut self, _index: usize, _total: usize, _step: &str) {}
    /// The step ended: applied, already done, checked or skipped.
    fn finish(&mut self, report: &StepReport);
    /// The step failed with this error (the spinner must not stay on screen).
    fn fail(&mut self, _step: &str) {}
}

/// A closure sees each finished step (tests, library callers).
impl<F: FnMut(&StepReport)> Progress for F {
    fn finish(&mut self, report: &StepReport) {
        self(report)
    }
}

/// Apply `input.plan`, reporting each step as it goes through `progress`.
pub fn apply(
    host: &dyn Host,
    input: &ApplyInput<'_>,
    progress: &mut dyn Progress,
) -> anyhow::Result<Vec<StepReport>> {
    let plan = input.plan;
    let mut journal = Journal::open(host, input.state_dir, &plan.cluster, &plan.node)?;
    bootstrap_state_dir(host, &mut journal, input.state_dir)?;
    let mut reports = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let name = step.to_string();
        progress.start(i, plan.steps.len(), &name);
        let (status, note) = match apply_step(host, &mut journal, input, step) {
            Ok(outcome) => outcome,
            Err(err) => {
                progress.fail(&name);
                return Err(err.context(format!("step {}: {step}", i + 1)));
            }
        };
        let report = StepReport {
            step: name,
            status,
            note,
        };
        progress.finish(&report);
        reports.push(report);
        if input.crash_after == Some(i + 1) {
            // Test-only: die like a power cut, with no cleanup.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            std::process::abort();
        }
    }
    Ok(reports)
}

fn apply_step(
    host: &dyn Host,
    journal: &mut Journal,
    input: &ApplyInput<'_>,
    step: &Step,
) -> anyhow::Result<(Status, Option<String>)> {
    let done = |s| Ok((s, None));
    match step {
        Step::AddVendorRepository {
            name,
            manager,
            files,
            problem,
        } => add_vendor_repository(
            host,
            journal,
            input,
            name,
            manager,
            files,
            problem.as_deref(),
        ),
        Step::InstallPackages { manager, packages } => {
            let mut missing = Vec::new();
            for p in packages {
                if !host.package_installed(manager, p)? {
                    missing.push(p.clone());
                }
            }
            if missing.is_empty() {
                return done(Status::AlreadyDone);
            }
            let index = journal.intend(
                host,
                Undo::RemovePackages {
                    manager: manager.clone(),
                    packages: missing.clone(),
                },
            )?;
            host.install_packages(manager, &missing)?;
            journal.done(host, index)?;
            Ok((
                Status::Applied,
                Some(format!("installed {}", missing.join(", "))),
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
            ensure_dir(host, journal, path, mode)?;
            done(Status::Applied)
        }
        Step::InstallClusterFile { path } => {
            let owner = Ownership::root(0o644);
            write_file(host, journal, path, input.cluster_bytes, &owner)
        }
        Step::InstallSecrets { path } => {
            let owner = Ownership::root(0o600);
            write_file(host, journal, path, input.secrets_bytes, &owner)
        }
        Step::CreateEni { .. }
        | Step::AttachEni { .. }
        | Step::ConfigureEni { .. }
        | Step::AssociateElasticIp { .. }
            if input.skip_cloud =>
        {
            Ok((Status::Skipped, Some("--skip-cloud".into())))
        }
        Step::CreateEni { node, .. } => cloud_steps::create_eni(host, journal, input, node),
        Step::AttachEni { node } => cloud_steps::attach_eni(host, journal, input, node),
        Step::ConfigureEni { node } => cloud_steps::configure_eni(host, journal, input, node),
        Step::AssociateElasticIp {
            allocation_id,
            node,
        } => cloud_steps::associate_eip(host, journal, input, node, allocation_id),
        Step::WriteFile { path, .. } => {
            let file = input
                .files
                .iter()
                .find(|f| &f.path == path)
                .with_context(|| format!("no rendered file for {}", path.display()))?;
            let owner = Ownership {
                mode: file.mode,
                owner: file.owner.clone(),
                group: file.group.clone(),
            };
            write_file(host, journal, path, file.contents.as_bytes(), &owner)
        }
        Step::ValidateFile { path, command } => {
            let out = host.run(command)?;
            if !out.success {
                // Nothing has been restarted yet: put the previous config back at once.
                let restored = crate::rollback::restore_file_now(host, journal, path)?;
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
        Step::RestartService { service } => {
            if input.no_start {
                return Ok((Status::Skipped, Some("--no-start".into())));
            }
            require_systemd(host)?;
            let was_active = host.service_active(service)?;
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
                        was_active,
                    },
                )?)
            };
            host.systemctl("restart", service)?;
            if let Some(index) = index {
                journal.done(host, index)?;
            }
            done(Status::Applied)
        }
    }
}

/// Add the vendor's repository only when a package the profile needs is neither installed
/// nor offered by the sources already configured; each file is journaled, so rollback
/// removes it (after removing the packages installed from it).
fn add_vendor_repository(
    host: &dyn Host,
    journal: &mut Journal,
    input: &ApplyInput<'_>,
    name: &str,
    manager: &str,
    files: &[RepoFile],
    problem: Option<&str>,
) -> anyhow::Result<(Status, Option<String>)> {
    let packages = input
        .plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::InstallPackages { packages, .. } => Some(packages.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let mut unavailable = Vec::new();
    for package in &packages {
        if !host.package_installed(manager, package)?
            && !host.package_available(manager, package)?
        {
            unavailable.push(package.clone());
        }
    }
    if unavailable.is_empty() {
        return Ok((Status::AlreadyDone, None));
    }
    if let Some(problem) = problem {
        bail!("{} cannot be installed: no configured source offers it, and the {name} vendor repository cannot be added here: {problem}", unavailable.join(", "));
    }
    let mut written = Vec::new();
    for file in files {
        let bytes = match &file.source {
            RepoSource::Contents(text) => text.clone().into_bytes(),
            RepoSource::Download(url) => host.fetch(url).with_context(|| {
                format!("getting the {name} repository key for {} (is {url} reachable from this host, directly or through https_proxy?)", file.path.display())
            })?,
        };
        let (status, _) = write_file(host, journal, &file.path, &bytes, &Ownership::root(0o644))?;
        if status == Status::Applied {
            written.push(file.path.display().to_string());
        }
    }
    host.refresh_packages(manager)
        .with_context(|| format!("reading the package sources after adding the {name} repository; `hakit rollback` removes it"))?;
    for package in &unavailable {
        if !host.package_available(manager, package)? {
            bail!("{package} is still not offered after adding the {name} vendor repository ({}): check that the repository serves this distro release; `hakit rollback` removes it", written.join(", "));
        }
    }
    Ok((
        Status::Applied,
        Some(format!(
            "for {}: wrote {}",
            unavailable.join(", "),
            written.join(", ")
        )),
    ))
}

fn require_systemd(host: &dyn Host) -> anyhow::Result<()> {
    if host.has_systemd() {
        Ok(())
    } else {
        bail!("systemd is not running here, so services cannot be enabled or started: run setup with --no-start to write and validate everything without starting services")
    }
}

/// Create `path` and any missing parents, journaling each so rollback removes them.
fn ensure_dir(
    host: &dyn Host,
    journal: &mut Journal,
    path: &Path,
    mode: u32,
) -> anyhow::Result<()> {
    if host.is_dir(path) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        ensure_dir(host, journal, parent, 0o755)?;
    }
    let index = journal.intend(
        host,
        Undo::RemoveDir {
            path: path.to_path_buf(),
        },
    )?;
    host.create_dir(path, mode)?;
    journal.done(host, index)
}

/// The journal lives in the state dir, so that directory (and any missing parent) is
/// created first and recorded right after, once the journal can be written.
fn bootstrap_state_dir(
    host: &dyn Host,
    journal: &mut Journal,
    state_dir: &Path,
) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    let mut dir = Some(state_dir);
    while let Some(d) = dir.filter(|d| !host.is_dir(d)) {
        missing.push(d.to_path_buf());
        dir = d.parent();
    }
    for d in missing.iter().rev() {
        let mode = if d == state_dir { 0o700 } else { 0o755 };
        host.create_dir(d, mode)?;
        journal.entries.push(Entry {
            state: EntryState::Done,
            undo: Undo::RemoveDir { path: d.clone() },
        });
    }
    journal.save(host)
}

fn write_file(
    host: &dyn Host,
    journal: &mut Journal,
    path: &Path,
    bytes: &[u8],
    owner: &Ownership,
) -> anyhow::Result<(Status, Option<String>)> {
    let current = host.read(path)?;
    let current_owner = host.ownership(path)?;
    if current.as_deref() == Some(bytes) && current_owner.as_ref() == Some(owner) {
        return Ok((Status::AlreadyDone, None));
    }
    if let Some(parent) = path.parent() {
        ensure_dir(host, journal, parent, 0o755)?;
    }
    let sha = sha256_hex(bytes);
    if let Some(index) = journal.file_entry(path) {
        // Written by an earlier setup: keep the original backup, record the new content.
        if let Undo::RestoreFile { written_sha256, .. } = &mut journal.entries[index].undo {
            *written_sha256 = sha;
        }
        journal.entries[index].state = EntryState::Intent;
        journal.save(host)?;
        host.write_atomic(path, bytes, owner)?;
        journal.done(host, index)?;
        return Ok((Status::Applied, Some("updated".into())));
    }
    let backup = match &current {
        Some(old) => {
            let dir = journal.backups_dir();
            ensure_dir(host, journal, &dir, 0o700)?;
            let backup = Journal::backup_of(&dir, path);
            let secret = Ownership::root(0o600);
            host.write_atomic(&backup, old, &secret)
                .with_context(|| format!("backing up {}", path.display()))?;
            Some(backup)
        }
        None => None,
    };
    let note = backup
        .as_ref()
        .map(|b| format!("previous version kept in {}", b.display()));
    let index = journal.intend(
        host,
        Undo::RestoreFile {
            path: path.to_path_buf(),
            backup,
            original: current_owner.as_ref().map(OwnershipRecord::from),
            written_sha256: sha,
        },
    )?;
    host.write_atomic(path, bytes, owner)?;
    journal.done(host, index)?;
    Ok((Status::Applied, note))
}
