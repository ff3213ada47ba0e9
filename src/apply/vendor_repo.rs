//! Add the vendor's package repository only when a package the profile needs is neither
//! installed nor offered by the sources already configured. Each file is journaled, so
//! rollback removes it (after removing the packages installed from it).

use super::{files, StepResult};
use crate::host::{Host, PackageManager};
use crate::journal::{NodeJournal, Status};
use crate::vendor_repo::{RepoFile, RepoSource};
use anyhow::{bail, Context};

/// What the plan's step says about the repository.
pub(super) struct Repo<'a> {
    pub name: &'a str,
    pub manager: Option<PackageManager>,
    pub files: &'a [RepoFile],
    /// Why the files cannot be made here; an error only if the repository is needed.
    pub problem: Option<&'a str>,
    /// The packages that may need it.
    pub packages: &'a [String],
}

pub(super) fn add(host: &dyn Host, journal: &mut NodeJournal, repo: Repo<'_>) -> StepResult {
    let name = repo.name;
    let Some(manager) = repo.manager else {
        // The install step names the missing distro; nothing can be checked here.
        return Ok((Status::Skipped, Some("distro not detected".into())));
    };
    let mut unavailable = Vec::new();
    for package in repo.packages {
        if !host.package_installed(manager, package)?
            && !host.package_available(manager, package)?
        {
            unavailable.push(package.clone());
        }
    }
    if unavailable.is_empty() {
        return Ok((Status::AlreadyDone, None));
    }
    if let Some(problem) = repo.problem {
        bail!("{} cannot be installed: no configured source offers it, and the {name} vendor repository cannot be added here: {problem}", unavailable.join(", "));
    }
    let mut written = Vec::new();
    for file in repo.files {
        let bytes = match &file.source {
            RepoSource::Contents(text) => text.clone().into_bytes(),
            RepoSource::Download(url) => host.fetch(url).with_context(|| {
                format!("getting the {name} repository key for {} (is {url} reachable from this host, directly or through https_proxy?)", file.path.display())
            })?,
        };
        let (status, _) = files::write_file(host, journal, &file.path, &bytes, &files::public())?;
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
