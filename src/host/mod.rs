//! The machine hakit changes: files, directories, users, packages, services, commands.
//! Every side effect on the host goes through [`Host`]; [`RealHost`] does it for real and
//! [`FakeHost`] keeps it in memory for unit tests.

mod fake;
pub mod interface;
pub mod mysql_wire;
mod real;

pub use fake::{FakeHost, FakeState};
pub use real::RealHost;

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

/// The first two words of a statement ("INSERT INTO"), for messages: its values may be
/// passwords.
pub fn sql_head(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The package manager that installs and removes packages on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    Apt,
    Dnf,
    Yum,
}

impl PackageManager {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageManager::Apt => "apt",
            PackageManager::Dnf => "dnf",
            PackageManager::Yum => "yum",
        }
    }
}

impl fmt::Display for PackageManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Owner, group and permission bits of a file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

impl Ownership {
    /// Owned by root:root with `mode`.
    pub fn root(mode: u32) -> Self {
        Ownership {
            mode,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    /// Owned by the user running hakit (numeric ids, which `write_atomic` accepts).
    pub fn current_user(mode: u32) -> anyhow::Result<Self> {
        use std::os::unix::fs::MetadataExt;
        // /proc/self belongs to the process's effective user and group.
        let meta = std::fs::metadata("/proc/self")
            .map_err(|e| anyhow::anyhow!("finding out who runs hakit (/proc/self): {e}"))?;
        Ok(Ownership {
            mode,
            owner: meta.uid().to_string(),
            group: meta.gid().to_string(),
        })
    }
}

/// Local user and group names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub output: String,
}

pub trait Host {
    /// The file's bytes, or `None` when it does not exist.
    fn read(&self, path: &Path) -> anyhow::Result<Option<Vec<u8>>>;
    /// Ownership of a file or directory, or `None` when it does not exist.
    fn ownership(&self, path: &Path) -> anyhow::Result<Option<Ownership>>;
    /// Replace `path` atomically (temp file in the same directory, fsync, rename, fsync dir).
    fn write_atomic(&self, path: &Path, bytes: &[u8], owner: &Ownership) -> anyhow::Result<()>;
    fn remove_file(&self, path: &Path) -> anyhow::Result<()>;
    fn is_dir(&self, path: &Path) -> bool;
    fn create_dir(&self, path: &Path, mode: u32) -> anyhow::Result<()>;
    /// Names of the entries of a directory, each with whether it is a unix socket.
    fn list_dir(&self, path: &Path) -> anyhow::Result<Vec<(String, bool)>>;
    /// Remove an empty directory; a directory someone else put files in stays.
    fn remove_dir_if_empty(&self, path: &Path) -> anyhow::Result<bool>;
    fn user_exists(&self, name: &str) -> anyhow::Result<bool>;
    fn create_system_user(&self, name: &str) -> anyhow::Result<()>;
    fn remove_user(&self, name: &str) -> anyhow::Result<()>;
    fn package_installed(&self, manager: PackageManager, name: &str) -> anyhow::Result<bool>;
    /// Whether `path` is a package's config file exactly as the package shipped it
    /// (dpkg's conffile checksum): `Some(true)` pristine, `Some(false)` edited since,
    /// `None` not a package's config file (or the package manager cannot tell).
    fn package_default(&self, path: &Path) -> anyhow::Result<Option<bool>>;
    /// Every installed package (to tell what an install pulled in).
    fn installed_packages(&self, manager: PackageManager) -> anyhow::Result<BTreeSet<String>>;
    /// The names of the local users and groups (to tell what a package's scripts created).
    fn accounts(&self) -> anyhow::Result<Accounts>;
    fn remove_group(&self, name: &str) -> anyhow::Result<()>;
    fn install_packages(&self, manager: PackageManager, names: &[String]) -> anyhow::Result<()>;
    /// Remove packages with their configuration (apt: purge).
    fn remove_packages(&self, manager: PackageManager, names: &[String]) -> anyhow::Result<()>;
    /// Whether the configured package sources offer `name` (installed or not).
    fn package_available(&self, manager: PackageManager, name: &str) -> anyhow::Result<bool>;
    /// Re-read the package sources (`apt-get update`, `dnf makecache`).
    fn refresh_packages(&self, manager: PackageManager) -> anyhow::Result<()>;
    /// Download `url` (HTTPS only): a vendor's signing key.
    fn fetch(&self, url: &str) -> anyhow::Result<Vec<u8>>;
    /// Whether systemd manages services here (it is PID 1).
    fn has_systemd(&self) -> bool;
    /// Whether systemd knows a unit by this name (its package may be gone).
    fn service_exists(&self, name: &str) -> anyhow::Result<bool>;
    fn service_enabled(&self, name: &str) -> anyhow::Result<bool>;
    fn service_active(&self, name: &str) -> anyhow::Result<bool>;
    /// `systemctl enable|disable|restart|reload|stop NAME`.
    fn systemctl(&self, verb: &str, name: &str) -> anyhow::Result<()>;
    /// The network interface with this MAC address, if any.
    fn interface_by_mac(&self, mac: &str) -> anyhow::Result<Option<String>>;
    /// The IPv4 addresses on `device` (on every interface when `None`); a device that does
    /// not exist has none.
    fn ipv4_addresses(&self, device: Option<&str>) -> anyhow::Result<Vec<Ipv4Addr>>;
    /// Run a command (validators, `ip`) and report what it said.
    fn run(&self, argv: &[String]) -> anyhow::Result<CommandOutput>;
    /// Run `statements` in order on the MySQL-protocol server at 127.0.0.1:`port`
    /// (ProxySQL's admin interface), logged in as `user`; stops at the first error, which
    /// names the statement's first words (never its values: they hold passwords).
    fn sql(
        &self,
        port: u16,
        user: &str,
        password: &str,
        statements: &[String],
    ) -> anyhow::Result<Vec<mysql_wire::QueryResult>>;
    /// [`Host::run`] for a command written out in place.
    fn run_str(&self, argv: &[&str]) -> anyhow::Result<CommandOutput> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        self.run(&argv)
    }
    /// [`Host::run_str`] where failing is an error naming the command and what it said.
    fn run_ok(&self, argv: &[&str]) -> anyhow::Result<()> {
        let out = self.run_str(argv)?;
        if !out.success {
            anyhow::bail!("`{}` failed: {}", argv.join(" "), out.output.trim());
        }
        Ok(())
    }
    /// Whether systemd runs here and has `unit` active.
    fn service_running(&self, unit: &str) -> anyhow::Result<bool> {
        Ok(self.has_systemd() && self.service_active(unit)?)
    }
}
