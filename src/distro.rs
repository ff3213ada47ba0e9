//! Which distribution this machine runs, as far as planning needs it: the family from
//! /etc/os-release (read only; EC2 facts from IMDSv2 come with the cloud module).

pub use crate::host::PackageManager;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Debian, Ubuntu: apt.
    Debian,
    /// RHEL, Rocky, Alma, Fedora, Amazon Linux: dnf or yum.
    Rhel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distro {
    pub id: String,
    pub version_id: Option<String>,
    pub codename: Option<String>,
    pub family: Option<Family>,
}

impl Distro {
    pub fn package_manager(&self) -> Option<PackageManager> {
        match (self.family, self.id.as_str(), self.version_id.as_deref()) {
            (Some(Family::Debian), _, _) => Some(PackageManager::Apt),
            (Some(Family::Rhel), "amzn", Some("2")) => Some(PackageManager::Yum),
            (Some(Family::Rhel), "rhel" | "centos", Some(v)) if v.starts_with('7') => {
                Some(PackageManager::Yum)
            }
            (Some(Family::Rhel), _, _) => Some(PackageManager::Dnf),
            (None, _, _) => None,
        }
    }
}

/// Parse the text of /etc/os-release.
pub fn parse_os_release(text: &str) -> Distro {
    let mut id = String::new();
    let mut id_like = String::new();
    let mut version_id = None;
    let mut codename = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value
            .trim()
            .trim_matches('"')
            .trim_matches('\'')
            .to_string();
        match key.trim() {
            "ID" => id = value,
            "ID_LIKE" => id_like = value,
            "VERSION_ID" => version_id = Some(value),
            "VERSION_CODENAME" => codename = Some(value),
            _ => {}
        }
    }
    let words: Vec<&str> = std::iter::once(id.as_str())
        .chain(id_like.split_whitespace())
        .collect();
    let family = if words.iter().any(|w| matches!(*w, "debian" | "ubuntu")) {
        Some(Family::Debian)
    } else if words.iter().any(|w| {
        matches!(
            *w,
            "rhel" | "fedora" | "centos" | "amzn" | "rocky" | "almalinux"
        )
    }) {
        Some(Family::Rhel)
    } else {
        None
    };
    Distro {
        id,
        version_id,
        codename,
        family,
    }
}

/// This machine's distribution, if /etc/os-release can be read.
/// The kind of container this machine is (systemd-nspawn, lxc, docker, podman), if any:
/// where keepalived's `track_process` cannot work (the kernel's process connector is
/// refused there).
pub fn container() -> Option<String> {
    if let Ok(kind) = std::fs::read_to_string("/run/systemd/container") {
        return Some(kind.trim().to_string()).filter(|k| !k.is_empty());
    }
    if std::path::Path::new("/.dockerenv").exists() {
        return Some("docker".into());
    }
    if std::path::Path::new("/run/.containerenv").exists() {
        return Some("podman".into());
    }
    let environ = std::fs::read("/proc/1/environ").ok()?;
    environ
        .split(|b| *b == 0)
        .find_map(|var| var.strip_prefix(b"container="))
        .map(|kind| String::from_utf8_lossy(kind).into_owned())
        .filter(|k| !k.is_empty())
}

pub fn detect() -> Option<Distro> {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .map(|t| parse_os_release(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_package_managers() {
        let cases = [
            (
                "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
                Some(Family::Debian),
                Some("apt"),
            ),
            (
                "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n",
                Some(Family::Debian),
                Some("apt"),
            ),
            (
                "ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\n",
                Some(Family::Rhel),
                Some("yum"),
            ),
            (
                "ID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n",
                Some(Family::Rhel),
                Some("dnf"),
            ),
            (
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n",
                Some(Family::Rhel),
                Some("dnf"),
            ),
            (
                "ID=fedora\nVERSION_ID=40\n",
                Some(Family::Rhel),
                Some("dnf"),
            ),
            ("ID=alpine\n", None, None),
        ];
        for (text, family, manager) in cases {
            let d = parse_os_release(text);
            assert_eq!(d.family, family, "{text}");
            assert_eq!(
                d.package_manager().map(PackageManager::as_str),
                manager,
                "{text}"
            );
        }
    }
}
