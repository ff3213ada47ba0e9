//! An in-memory host for unit tests: files, directories, users, packages and services in
//! maps, every call recorded, and failures injectable per operation.

use super::{Accounts, CommandOutput, Host, Ownership, PackageManager};
use anyhow::bail;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, PartialEq)]
pub struct FakeState {
    pub files: BTreeMap<PathBuf, (Vec<u8>, Ownership)>,
    pub dirs: BTreeSet<PathBuf>,
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub packages: BTreeSet<String>,
    pub enabled: BTreeSet<String>,
    pub running: BTreeSet<String>,
    /// MAC address -> interface name.
    pub interfaces: BTreeMap<String, String>,
    /// Interface name -> its IPv4 addresses.
    pub addresses: BTreeMap<String, Vec<Ipv4Addr>>,
}

#[derive(Debug, Default)]
pub struct FakeHost {
    pub state: RefCell<FakeState>,
    pub systemd: bool,
    /// Operations that fail, by name ("write", "install", "useradd", "validate", ...).
    pub fail: RefCell<BTreeSet<String>>,
    pub calls: RefCell<Vec<String>>,
    /// Packages the distro's own sources offer.
    pub distro_offers: RefCell<BTreeSet<String>>,
    /// Packages a repository file offers while it exists (path -> package names).
    pub repo_offers: RefCell<BTreeMap<PathBuf, Vec<String>>>,
    /// What `fetch` returns, by URL.
    pub downloads: RefCell<BTreeMap<String, Vec<u8>>>,
    /// Crash test: the n-th call (1-based) that would change something fails, and so does
    /// every later one, as if the process had died just before it.
    pub crash_at_call: std::cell::Cell<Option<usize>>,
    /// What installing a package also brings: its dependencies, and the system users (each
    /// with a group of its name) its scripts create.
    pub package_deps: RefCell<BTreeMap<String, Vec<String>>>,
    pub package_users: RefCell<BTreeMap<String, Vec<String>>>,
    /// Files that are a package's config file as shipped (their current bytes).
    pub package_defaults: RefCell<BTreeMap<PathBuf, Vec<u8>>>,
    /// Units systemd does not know (their package is gone).
    pub missing_units: RefCell<BTreeSet<String>>,
    /// What a statement run with `sql` answers (an empty result otherwise); every
    /// statement run, in order.
    pub sql_results: RefCell<BTreeMap<String, super::mysql_wire::QueryResult>>,
    pub sql_log: RefCell<Vec<String>>,
    /// Send `sql` to the real server on loopback instead (a test's own ProxySQL).
    pub sql_for_real: std::cell::Cell<bool>,
    ops: std::cell::Cell<usize>,
}

impl FakeHost {
    pub fn new() -> Self {
        let host = FakeHost {
            systemd: true,
            ..FakeHost::default()
        };
        host.state.borrow_mut().dirs.insert(PathBuf::from("/"));
        host
    }

    pub fn snapshot(&self) -> FakeState {
        self.state.borrow().clone()
    }

    fn op(&self, name: &str, detail: String) -> anyhow::Result<()> {
        self.ops.set(self.ops.get() + 1);
        if self
            .crash_at_call
            .get()
            .is_some_and(|n| self.ops.get() >= n)
        {
            bail!(
                "injected crash before call {}: {name} {detail}",
                self.ops.get()
            );
        }
        self.calls.borrow_mut().push(format!("{name} {detail}"));
        if self.fail.borrow().contains(name) {
            bail!("injected failure: {name} {detail}");
        }
        Ok(())
    }
}

impl Host for FakeHost {
    fn sql(
        &self,
        port: u16,
        user: &str,
        password: &str,
        statements: &[String],
    ) -> anyhow::Result<Vec<super::mysql_wire::QueryResult>> {
        self.op("sql", format!("{user}@127.0.0.1:{port}"))?;
        self.sql_log.borrow_mut().extend(statements.iter().cloned());
        if self.sql_for_real.get() {
            return super::RealHost.sql(port, user, password, statements);
        }
        statements
            .iter()
            .map(|sql| {
                Ok(self
                    .sql_results
                    .borrow()
                    .get(sql)
                    .cloned()
                    .unwrap_or_default())
            })
            .collect()
    }

    fn read(&self, path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.state.borrow().files.get(path).map(|(b, _)| b.clone()))
    }

    fn ownership(&self, path: &Path) -> anyhow::Result<Option<Ownership>> {
        let state = self.state.borrow();
        Ok(state
            .files
            .get(path)
            .map(|(_, o)| o.clone())
            .or_else(|| state.dirs.contains(path).then(|| Ownership::root(0o755))))
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8], owner: &Ownership) -> anyhow::Result<()> {
        self.op("write", path.display().to_string())?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        if !self.state.borrow().dirs.contains(parent) {
            bail!(
                "writing {}: no directory {}",
                path.display(),
                parent.display()
            );
        }
        self.state
            .borrow_mut()
            .files
            .insert(path.to_path_buf(), (bytes.to_vec(), owner.clone()));
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> anyhow::Result<()> {
        self.op("rm", path.display().to_string())?;
        self.state.borrow_mut().files.remove(path);
        Ok(())
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.state.borrow().dirs.contains(path)
    }

    fn create_dir(&self, path: &Path, _mode: u32) -> anyhow::Result<()> {
        self.op("mkdir", path.display().to_string())?;
        let mut state = self.state.borrow_mut();
        if let Some(parent) = path.parent() {
            if !state.dirs.contains(parent) {
                bail!("creating directory {}: no parent", path.display());
            }
        }
        state.dirs.insert(path.to_path_buf());
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> anyhow::Result<Vec<(String, bool)>> {
        let state = self.state.borrow();
        let files = state.files.keys().filter(|f| f.parent() == Some(path));
        let dirs = state.dirs.iter().filter(|d| d.parent() == Some(path));
        Ok(files
            .chain(dirs)
            .filter_map(|p| {
                p.file_name()
                    .map(|n| (n.to_string_lossy().into_owned(), false))
            })
            .collect())
    }

    fn remove_dir_if_empty(&self, path: &Path) -> anyhow::Result<bool> {
        self.op("rmdir", path.display().to_string())?;
        let mut state = self.state.borrow_mut();
        let busy = state.files.keys().any(|f| f.parent() == Some(path))
            || state.dirs.iter().any(|d| d.parent() == Some(path));
        if busy {
            return Ok(false);
        }
        state.dirs.remove(path);
        Ok(true)
    }

    fn user_exists(&self, name: &str) -> anyhow::Result<bool> {
        Ok(self.state.borrow().users.contains(name))
    }

    fn create_system_user(&self, name: &str) -> anyhow::Result<()> {
        self.op("useradd", name.to_string())?;
        self.state.borrow_mut().users.insert(name.to_string());
        Ok(())
    }

    fn remove_user(&self, name: &str) -> anyhow::Result<()> {
        self.op("userdel", name.to_string())?;
        self.state.borrow_mut().users.remove(name);
        Ok(())
    }

    fn package_installed(&self, _manager: PackageManager, name: &str) -> anyhow::Result<bool> {
        Ok(self.state.borrow().packages.contains(name))
    }

    fn install_packages(&self, _manager: PackageManager, names: &[String]) -> anyhow::Result<()> {
        self.op("install", names.join(" "))?;
        let deps = self.package_deps.borrow();
        let users = self.package_users.borrow();
        let mut state = self.state.borrow_mut();
        for name in names {
            state.packages.insert(name.clone());
            state
                .packages
                .extend(deps.get(name).into_iter().flatten().cloned());
            for user in users.get(name).into_iter().flatten() {
                state.users.insert(user.clone());
                state.groups.insert(user.clone());
            }
        }
        Ok(())
    }

    fn package_default(&self, path: &Path) -> anyhow::Result<Option<bool>> {
        let shipped = self.package_defaults.borrow().get(path).cloned();
        Ok(
            shipped
                .map(|bytes| self.state.borrow().files.get(path).map(|(b, _)| b) == Some(&bytes)),
        )
    }

    fn installed_packages(&self, _manager: PackageManager) -> anyhow::Result<BTreeSet<String>> {
        Ok(self.state.borrow().packages.clone())
    }

    fn accounts(&self) -> anyhow::Result<Accounts> {
        let state = self.state.borrow();
        Ok(Accounts {
            users: state.users.clone(),
            groups: state.groups.clone(),
        })
    }

    fn remove_group(&self, name: &str) -> anyhow::Result<()> {
        self.op("groupdel", name.to_string())?;
        self.state.borrow_mut().groups.remove(name);
        Ok(())
    }

    fn package_available(&self, _manager: PackageManager, name: &str) -> anyhow::Result<bool> {
        let files = &self.state.borrow().files;
        Ok(self.distro_offers.borrow().contains(name)
            || self
                .repo_offers
                .borrow()
                .iter()
                .any(|(path, names)| files.contains_key(path) && names.iter().any(|n| n == name)))
    }

    fn refresh_packages(&self, manager: PackageManager) -> anyhow::Result<()> {
        self.op("refresh", manager.to_string())
    }

    fn fetch(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        self.op("fetch", url.to_string())?;
        match self.downloads.borrow().get(url) {
            Some(bytes) => Ok(bytes.clone()),
            None => bail!("fetching {url}: 404 Not Found"),
        }
    }

    fn remove_packages(&self, _manager: PackageManager, names: &[String]) -> anyhow::Result<()> {
        self.op("remove", names.join(" "))?;
        let mut state = self.state.borrow_mut();
        for n in names {
            state.packages.remove(n);
        }
        Ok(())
    }

    fn has_systemd(&self) -> bool {
        self.systemd
    }

    fn service_exists(&self, name: &str) -> anyhow::Result<bool> {
        Ok(!self.missing_units.borrow().contains(name))
    }

    fn service_enabled(&self, name: &str) -> anyhow::Result<bool> {
        Ok(self.state.borrow().enabled.contains(name))
    }

    fn service_active(&self, name: &str) -> anyhow::Result<bool> {
        Ok(self.state.borrow().running.contains(name))
    }

    fn systemctl(&self, verb: &str, name: &str) -> anyhow::Result<()> {
        self.op(&format!("systemctl-{verb}"), name.to_string())?;
        if self.missing_units.borrow().contains(name) {
            bail!("Unit {name}.service not found.");
        }
        let mut state = self.state.borrow_mut();
        match verb {
            "enable" => {
                state.enabled.insert(name.to_string());
            }
            "disable" => {
                state.enabled.remove(name);
            }
            "restart" => {
                state.running.insert(name.to_string());
            }
            "stop" => {
                state.running.remove(name);
            }
            "reload" if !state.running.contains(name) => {
                bail!("Job for {name}.service failed: the unit is not active")
            }
            "reload" => {}
            other => bail!("unknown systemctl verb {other}"),
        }
        Ok(())
    }

    fn ipv4_addresses(&self, device: Option<&str>) -> anyhow::Result<Vec<Ipv4Addr>> {
        let state = self.state.borrow();
        Ok(state
            .addresses
            .iter()
            .filter(|(dev, _)| device.is_none_or(|d| d == dev.as_str()))
            .flat_map(|(_, addrs)| addrs.iter().copied())
            .collect())
    }

    fn interface_by_mac(&self, mac: &str) -> anyhow::Result<Option<String>> {
        // "*" stands for any MAC (tests that cannot know an ENI's MAC in advance).
        let state = self.state.borrow();
        Ok(state
            .interfaces
            .get(mac)
            .or_else(|| state.interfaces.get("*"))
            .cloned())
    }

    fn run(&self, argv: &[String]) -> anyhow::Result<CommandOutput> {
        self.op("run", argv.join(" "))?;
        let success = !self.fail.borrow().contains("validate");
        Ok(CommandOutput {
            success,
            code: Some(if success { 0 } else { 1 }),
            output: String::new(),
        })
    }
}
