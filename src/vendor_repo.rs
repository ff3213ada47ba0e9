//! The vendor's package repository for a proxy the distro does not ship (ProxySQL): the
//! files that add it for apt (a signing key and a sources list) or dnf/yum (a .repo file
//! naming its key). Pure: `setup` writes them through the journal, `rollback` removes them.

use crate::host::PackageManager;
use crate::profile::VendorRepo;
use serde::Serialize;
use std::path::PathBuf;

/// The header that marks a repository file as hakit's (also how `rollback --discover`
/// recognises it).
pub const MARKER: &str = "# Managed by hakit";

/// One file of the repository definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoFile {
    pub path: PathBuf,
    #[serde(flatten)]
    pub source: RepoSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepoSource {
    /// Written as is.
    Contents(String),
    /// Downloaded over HTTPS at setup time (the apt signing key).
    Download(String),
}

/// Where apt keeps the keys that `signed-by=` names, and its sources.
pub const APT_SOURCES_DIR: &str = "/etc/apt/sources.list.d";
pub const YUM_REPOS_DIR: &str = "/etc/yum.repos.d";

/// The files that add `repo` for `manager`; `codename` is the distro's VERSION_CODENAME
/// (apt sources name it). Errors say which profile field or distro fact is missing.
pub fn files(
    repo: &VendorRepo,
    manager: Option<PackageManager>,
    codename: Option<&str>,
) -> Result<Vec<RepoFile>, String> {
    let name = &repo.name;
    match manager {
        Some(PackageManager::Apt) => {
            let source = if repo.apt_source.contains("{codename}") {
                let codename = codename.ok_or_else(|| {
                    format!("the {name} apt source needs the distro's codename, and /etc/os-release has no VERSION_CODENAME")
                })?;
                repo.apt_source.replace("{codename}", codename)
            } else {
                repo.apt_source.clone()
            };
            let key = signed_by(&source).ok_or_else(|| {
                format!("vendor_repo.apt_source of {name} must name its key with [signed-by=/etc/apt/keyrings/{name}.asc]")
            })?;
            Ok(vec![
                RepoFile {
                    path: key,
                    source: RepoSource::Download(repo.apt_key_url.clone()),
                },
                RepoFile {
                    path: PathBuf::from(APT_SOURCES_DIR).join(format!("{name}.list")),
                    source: RepoSource::Contents(format!(
                        "{MARKER}: the {name} vendor repository, removed by `hakit rollback`.\n{source}\n"
                    )),
                },
            ])
        }
        Some(PackageManager::Dnf | PackageManager::Yum) => Ok(vec![RepoFile {
            path: PathBuf::from(YUM_REPOS_DIR).join(format!("{name}.repo")),
            source: RepoSource::Contents(format!(
                "{MARKER}: the {name} vendor repository, removed by `hakit rollback`.\n[{name}]\nname={name} (vendor repository, added by hakit)\nbaseurl={}\ngpgcheck=1\ngpgkey={}\nenabled=1\n",
                repo.yum_baseurl, repo.yum_gpgkey
            )),
        }]),
        None => Err(format!(
            "cannot add the {name} repository: the distro was not detected in /etc/os-release, so hakit does not know whether apt, dnf or yum manages packages"
        )),
    }
}

/// The key path in `deb [signed-by=PATH ...] URL ...` (absolute paths only).
pub fn signed_by(source: &str) -> Option<PathBuf> {
    let options = source.split_once('[')?.1.split_once(']')?.0;
    options
        .split_whitespace()
        .find_map(|o| o.strip_prefix("signed-by="))
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxysql() -> VendorRepo {
        VendorRepo {
            name: "proxysql".into(),
            apt_source: "deb [signed-by=/etc/apt/keyrings/proxysql.asc] https://repo.proxysql.com/ProxySQL/proxysql-3.0.x/{codename}/ ./".into(),
            apt_key_url: "https://repo.proxysql.com/ProxySQL/proxysql-3.0.x/repo_pub_key".into(),
            yum_baseurl: "https://repo.proxysql.com/ProxySQL/proxysql-3.0.x/centos/$releasever".into(),
            yum_gpgkey: "https://repo.proxysql.com/ProxySQL/proxysql-3.0.x/repo_pub_key".into(),
        }
    }

    #[test]
    fn apt_gets_the_key_it_names_and_a_marked_source_for_this_codename() {
        let files =
            files(&proxysql(), Some(PackageManager::Apt), Some("bookworm")).expect("apt files");
        assert_eq!(
            files[0].path,
            PathBuf::from("/etc/apt/keyrings/proxysql.asc")
        );
        assert!(matches!(&files[0].source, RepoSource::Download(u) if u.ends_with("repo_pub_key")));
        assert_eq!(
            files[1].path,
            PathBuf::from("/etc/apt/sources.list.d/proxysql.list")
        );
        let RepoSource::Contents(text) = &files[1].source else {
            panic!("the source list is written, not downloaded");
        };
        assert!(text.starts_with(MARKER));
        assert!(text.contains("proxysql-3.0.x/bookworm/ ./"), "{text}");
        assert!(!text.contains("{codename}"));
    }

    #[test]
    fn dnf_gets_one_repo_file_that_checks_signatures() {
        let files = files(&proxysql(), Some(PackageManager::Dnf), None).expect("dnf files");
        assert_eq!(files.len(), 1);
        assert_eq!(
            files[0].path,
            PathBuf::from("/etc/yum.repos.d/proxysql.repo")
        );
        let RepoSource::Contents(text) = &files[0].source else {
            panic!("written");
        };
        assert!(
            text.contains("gpgcheck=1") && text.contains("gpgkey=https://"),
            "{text}"
        );
    }

    #[test]
    fn missing_facts_and_fields_are_named() {
        let err = files(&proxysql(), Some(PackageManager::Apt), None).expect_err("no codename");
        assert!(err.contains("VERSION_CODENAME"), "{err}");
        let mut repo = proxysql();
        repo.apt_source = "deb https://example.invalid/ ./".into();
        let err = files(&repo, Some(PackageManager::Apt), Some("bookworm")).expect_err("no key");
        assert!(err.contains("signed-by"), "{err}");
        let err = files(&proxysql(), None, None).expect_err("no distro");
        assert!(err.contains("os-release"), "{err}");
    }
}
