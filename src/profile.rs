//! Profiles: data describing one proxy (packages per distro family, service, port, health
//! checks, config templates). Shipped profiles are embedded; a cluster file can name a
//! profile file of its own instead.

use crate::user_file::{parse_toml, ConfigError, ConfigIssue};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Every file in profiles/, by name without `.toml`; `every_profile_file_is_shipped` fails
/// when one is missing.
const SHIPPED: &[(&str, &str)] = &[
    ("haproxy", include_str!("../profiles/haproxy.toml")),
    ("proxysql", include_str!("../profiles/proxysql.toml")),
    (
        "mariadb-galera",
        include_str!("../profiles/mariadb-galera.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// systemd unit of the proxy (or database).
    pub service: String,
    /// Process name for keepalived's `track_process`.
    pub process: String,
    /// Default client port.
    pub port: u16,
    #[serde(default)]
    pub admin_port: Option<u16>,
    #[serde(default)]
    pub stats_port: Option<u16>,
    /// Loopback port where the proxy itself answers a health request (haproxy's
    /// monitor-uri): checks that need an answer, not only a completed TCP handshake.
    #[serde(default)]
    pub health_port: Option<u16>,
    /// Default directory of the proxy's own config files.
    pub config_dir: String,
    /// Whether `[[backend]]` entries are required.
    pub needs_backends: bool,
    /// Whether `systemctl reload` of the service applies a new config (setup then reloads
    /// instead of restarting it).
    #[serde(default)]
    pub reload: bool,
    pub packages: Packages,
    #[serde(default)]
    pub vendor_repo: Option<VendorRepo>,
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    #[serde(default)]
    pub files: Vec<FileSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Packages {
    /// Debian and Ubuntu (apt).
    pub debian: Vec<String>,
    /// RHEL, Rocky, Alma, Fedora, Amazon Linux (dnf or yum).
    pub rhel: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VendorRepo {
    pub name: String,
    pub apt_source: String,
    pub apt_key_url: String,
    pub yum_baseurl: String,
    pub yum_gpgkey: String,
}

/// A keepalived `vrrp_script`: a health-check script rendered from a template.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub name: String,
    pub template: String,
    /// User keepalived runs it as: `keepalived_script` unless it needs root.
    pub user: String,
}

/// A proxy config file rendered from a template into the proxy's config directory.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub template: String,
    pub name: String,
    pub mode: u32,
    #[serde(default)]
    pub group: Option<String>,
    /// Validator command; `{path}` is replaced by the file's path.
    #[serde(default)]
    pub validate: Vec<String>,
}

pub fn shipped_names() -> Vec<&'static str> {
    SHIPPED.iter().map(|(name, _)| *name).collect()
}

pub fn is_shipped(name: &str) -> bool {
    SHIPPED.iter().any(|(n, _)| *n == name)
}

/// Load a shipped profile by name, or a profile file by path (relative to `base_dir`, the
/// cluster file's directory).
pub fn load(reference: &str, base_dir: &Path) -> Result<Profile, ConfigError> {
    if let Some((_, text)) = SHIPPED.iter().find(|(n, _)| *n == reference) {
        return parse(text, None);
    }
    let path = base_dir.join(reference);
    let text = std::fs::read_to_string(&path).map_err(|err| {
        ConfigError::single(
            Some(path.clone()),
            ConfigIssue::new(
                "profile",
                format!("cannot read profile file {}: {err}", path.display()),
                format!(
                    "use a shipped profile ({}) or fix the path",
                    shipped_names().join(", ")
                ),
            ),
        )
    })?;
    parse(&text, Some(&path))
}

fn parse(text: &str, path: Option<&Path>) -> Result<Profile, ConfigError> {
    parse_toml::<Profile>(text, "profile").map_err(|issues| ConfigError {
        file: path.map(Path::to_path_buf),
        issues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_parses_and_names_itself() {
        for name in shipped_names() {
            let profile = load(name, Path::new(".")).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(profile.name, name);
            assert!(
                profile.packages.debian.contains(&"keepalived".to_string()),
                "{name}"
            );
            assert!(
                profile.packages.rhel.contains(&"keepalived".to_string()),
                "{name}"
            );
            assert!(
                !profile.checks.is_empty(),
                "{name} needs a protocol-level check"
            );
        }
    }

    /// `include_str!` already fails the build for a listed file that is gone; this is the
    /// other direction: a profile added to profiles/ but not to the list would be absent
    /// from the binary, and `profile = "<name>"` would be rejected as unknown.
    #[test]
    fn every_profile_file_is_shipped() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        for entry in std::fs::read_dir(&dir).expect("reading profiles/") {
            let path = entry.expect("reading profiles/").path();
            let file = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 name");
            let name = file.strip_suffix(".toml").unwrap_or_else(|| {
                panic!("profiles/{file}: profiles are .toml files, nothing else belongs there")
            });
            let on_disk = std::fs::read_to_string(&path).expect("reading a profile");
            match SHIPPED.iter().find(|(n, _)| *n == name) {
                Some((_, shipped)) => assert!(
                    *shipped == on_disk,
                    "SHIPPED in src/profile.rs names {name} but includes another file"
                ),
                None => panic!(
                    "profiles/{file} is not shipped: add \
                     (\"{name}\", include_str!(\"../profiles/{file}\")) \
                     to SHIPPED in src/profile.rs"
                ),
            }
        }
    }

    #[test]
    fn unknown_profile_key_is_named() {
        let err = parse("name = 'x'\nbogus = 1\n", None).unwrap_err();
        assert!(err.fields().contains(&"bogus"), "{err}");
    }
}
