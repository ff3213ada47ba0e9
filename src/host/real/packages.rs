//! Packages on the real host: dpkg/apt or rpm/dnf/yum, what is installed, what a
//! package shipped as its config files (dpkg's conffile checksums), installing, purging.

use super::{checked, command};
use crate::host::PackageManager;
use anyhow::bail;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

pub(super) fn package_installed(manager: PackageManager, name: &str) -> anyhow::Result<bool> {
    Ok(match manager {
        PackageManager::Apt => {
            let out = command(&["dpkg-query", "-W", "-f=${Status}", name])?;
            out.success && out.output.contains("install ok installed")
        }
        PackageManager::Dnf | PackageManager::Yum => command(&["rpm", "-q", name])?.success,
    })
}

pub(super) fn package_default(path: &Path) -> anyhow::Result<Option<bool>> {
    let Some(path_text) = path.to_str() else {
        return Ok(None);
    };
    let owner = command(&["dpkg-query", "-S", path_text]);
    let Ok(owner) = owner.map(|o| o.success.then_some(o.output)) else {
        return Ok(None); // not dpkg (an RPM host): cannot tell
    };
    let Some(package) = owner
        .as_deref()
        .and_then(|o| o.lines().next())
        .and_then(|l| l.split(':').next())
        .map(str::trim)
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let conffiles = command(&["dpkg-query", "-W", "-f=${Conffiles}\n", &package])?;
    let Some(shipped) = conffiles.output.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        (words.next() == Some(path_text)).then(|| words.next().map(str::to_string))?
    }) else {
        return Ok(None);
    };
    let Some(bytes) = super::read(path)? else {
        return Ok(None);
    };
    Ok(Some(md5_hex(&bytes) == shipped))
}

pub(super) fn installed_packages(manager: PackageManager) -> anyhow::Result<BTreeSet<String>> {
    let out = match manager {
        PackageManager::Apt => {
            command(&["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\n"])?
        }
        PackageManager::Dnf | PackageManager::Yum => {
            command(&["rpm", "-qa", "--qf", "%{NAME}\tii\n"])?
        }
    };
    if !out.success {
        bail!(
            "listing the installed packages failed: {}",
            out.output.trim()
        );
    }
    Ok(out
        .output
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, status)| status.starts_with("ii"))
        .map(|(name, _)| name.to_string())
        .collect())
}

pub(super) fn install_packages(manager: PackageManager, names: &[String]) -> anyhow::Result<()> {
    let mut argv: Vec<&str> = match manager {
        PackageManager::Apt => {
            vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"]
        }
        PackageManager::Dnf | PackageManager::Yum => {
            vec![manager.as_str(), "install", "-y", "-q"]
        }
    };
    argv.extend(names.iter().map(String::as_str));
    checked(&argv)
}

pub(super) fn remove_packages(manager: PackageManager, names: &[String]) -> anyhow::Result<()> {
    let mut argv: Vec<&str> = match manager {
        PackageManager::Apt => vec!["apt-get", "purge", "-y", "-q"],
        PackageManager::Dnf | PackageManager::Yum => {
            vec![manager.as_str(), "remove", "-y", "-q"]
        }
    };
    argv.extend(names.iter().map(String::as_str));
    checked(&argv)
}

pub(super) fn package_available(manager: PackageManager, name: &str) -> anyhow::Result<bool> {
    match manager {
        PackageManager::Apt => {
            let out = command(&["apt-cache", "policy", name])?;
            Ok(out.success
                && out.output.lines().any(|l| {
                    l.trim()
                        .strip_prefix("Candidate:")
                        .is_some_and(|c| c.trim() != "(none)")
                }))
        }
        PackageManager::Dnf | PackageManager::Yum => {
            Ok(command(&[manager.as_str(), "-q", "list", name])?.success)
        }
    }
}

pub(super) fn refresh_packages(manager: PackageManager) -> anyhow::Result<()> {
    match manager {
        PackageManager::Apt => checked(&["apt-get", "update", "-q"]),
        PackageManager::Dnf | PackageManager::Yum => {
            checked(&[manager.as_str(), "-q", "makecache"])
        }
    }
}

/// MD5 as dpkg records conffiles (`md5sum`, which coreutils always has).
fn md5_hex(bytes: &[u8]) -> String {
    use std::io::Write as _;
    let Ok(mut child) = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        return String::new();
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(bytes);
    }
    child
        .wait_with_output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}
