//! The real host: std::fs for files, useradd/userdel, apt-get or dnf/yum, systemctl.

mod packages;

use super::{Accounts, CommandOutput, Host, Ownership, PackageManager};
use anyhow::{bail, Context};
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

#[derive(Debug, Default)]
pub struct RealHost;

/// The file's bytes, or `None` when it does not exist.
fn read(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn command(argv: &[&str]) -> anyhow::Result<CommandOutput> {
    let (program, args) = argv.split_first().context("empty command")?;
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .with_context(|| format!("running `{}`", argv.join(" ")))?;
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(CommandOutput {
        success: out.status.success(),
        code: out.status.code(),
        output,
    })
}

fn checked(argv: &[&str]) -> anyhow::Result<()> {
    let out = command(argv)?;
    if !out.success {
        bail!(
            "`{}` failed (exit {:?}): {}",
            argv.join(" "),
            out.code,
            out.output.trim()
        );
    }
    Ok(())
}

/// Numeric id of a user or group from /etc/passwd or /etc/group.
fn lookup_id(file: &str, name: &str) -> anyhow::Result<u32> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(id);
    }
    let text = fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(2).and_then(|id| id.parse().ok()))
        .with_context(|| {
            format!(
                "no such {} {name:?} in {file}",
                if file.ends_with("passwd") {
                    "user"
                } else {
                    "group"
                }
            )
        })
}

fn lookup_name(file: &str, id: u32) -> String {
    fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines()
                .map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>())
                .find(|f| f.get(2).and_then(|i| i.parse::<u32>().ok()) == Some(id))
                .and_then(|f| f.first().cloned())
        })
        .unwrap_or_else(|| id.to_string())
}

impl Host for RealHost {
    fn sql(
        &self,
        port: u16,
        user: &str,
        password: &str,
        statements: &[String],
    ) -> anyhow::Result<Vec<super::mysql_wire::QueryResult>> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut conn = super::mysql_wire::Conn::connect(
            addr,
            user,
            password,
            std::time::Duration::from_secs(5),
        )?;
        statements
            .iter()
            .map(|sql| {
                conn.query(sql)
                    .with_context(|| format!("`{} ...` on {addr}", super::sql_head(sql)))
            })
            .collect()
    }

    fn read(&self, path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
        read(path)
    }

    fn ownership(&self, path: &Path) -> anyhow::Result<Option<Ownership>> {
        match fs::symlink_metadata(path) {
            Ok(meta) => Ok(Some(Ownership {
                mode: meta.permissions().mode() & 0o7777,
                owner: lookup_name("/etc/passwd", meta.uid()),
                group: lookup_name("/etc/group", meta.gid()),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("inspecting {}", path.display())),
        }
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8], owner: &Ownership) -> anyhow::Result<()> {
        let dir = path
            .parent()
            .with_context(|| format!("{} has no parent directory", path.display()))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let tmp = dir.join(format!(".{name}.hakit-tmp"));
        let uid = lookup_id("/etc/passwd", &owner.owner)?;
        let gid = lookup_id("/etc/group", &owner.group)?;
        let result = (|| -> anyhow::Result<()> {
            let mut file =
                File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            // Restrict before writing so a secret is never readable by others, even briefly.
            file.set_permissions(fs::Permissions::from_mode(owner.mode & 0o700))?;
            file.write_all(bytes)?;
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid)).with_context(|| {
                format!("chown {}:{} {}", owner.owner, owner.group, tmp.display())
            })?;
            file.set_permissions(fs::Permissions::from_mode(owner.mode))?;
            file.sync_all()?;
            fs::rename(&tmp, path)
                .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
            File::open(dir)?.sync_all()?;
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.with_context(|| format!("writing {}", path.display()))
    }

    fn remove_file(&self, path: &Path) -> anyhow::Result<()> {
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn create_dir(&self, path: &Path, mode: u32) -> anyhow::Result<()> {
        fs::create_dir(path).with_context(|| format!("creating directory {}", path.display()))?;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {mode:o} {}", path.display()))
    }

    fn list_dir(&self, path: &Path) -> anyhow::Result<Vec<(String, bool)>> {
        use std::os::unix::fs::FileTypeExt;
        let entries = match fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e).with_context(|| format!("listing {}", path.display())),
        };
        Ok(entries
            .flatten()
            .map(|e| {
                let socket = e.file_type().map(|t| t.is_socket()).unwrap_or(false);
                (e.file_name().to_string_lossy().into_owned(), socket)
            })
            .collect())
    }

    fn remove_dir_if_empty(&self, path: &Path) -> anyhow::Result<bool> {
        match fs::remove_dir(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => Ok(false),
            Err(e) => Err(e).with_context(|| format!("removing directory {}", path.display())),
        }
    }

    fn user_exists(&self, name: &str) -> anyhow::Result<bool> {
        Ok(lookup_id("/etc/passwd", name).is_ok())
    }

    fn create_system_user(&self, name: &str) -> anyhow::Result<()> {
        checked(&[
            "useradd",
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
    }

    fn remove_user(&self, name: &str) -> anyhow::Result<()> {
        checked(&["userdel", name])
    }

    fn package_installed(&self, manager: PackageManager, name: &str) -> anyhow::Result<bool> {
        packages::package_installed(manager, name)
    }

    fn package_default(&self, path: &Path) -> anyhow::Result<Option<bool>> {
        packages::package_default(path)
    }

    fn installed_packages(&self, manager: PackageManager) -> anyhow::Result<BTreeSet<String>> {
        packages::installed_packages(manager)
    }

    fn accounts(&self) -> anyhow::Result<Accounts> {
        let names = |file: &str| -> anyhow::Result<BTreeSet<String>> {
            let text = fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
            Ok(text
                .lines()
                .filter_map(|l| l.split(':').next())
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect())
        };
        Ok(Accounts {
            users: names("/etc/passwd")?,
            groups: names("/etc/group")?,
        })
    }

    fn remove_group(&self, name: &str) -> anyhow::Result<()> {
        checked(&["groupdel", name])
    }

    fn install_packages(&self, manager: PackageManager, names: &[String]) -> anyhow::Result<()> {
        packages::install_packages(manager, names)
    }

    fn remove_packages(&self, manager: PackageManager, names: &[String]) -> anyhow::Result<()> {
        packages::remove_packages(manager, names)
    }

    fn package_available(&self, manager: PackageManager, name: &str) -> anyhow::Result<bool> {
        packages::package_available(manager, name)
    }

    fn refresh_packages(&self, manager: PackageManager) -> anyhow::Result<()> {
        packages::refresh_packages(manager)
    }

    fn fetch(&self, url: &str) -> anyhow::Result<Vec<u8>> {
        use std::io::Read;
        if !url.starts_with("https://") {
            bail!("refusing to download {url}: keys are fetched over https only");
        }
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(30))
            .build();
        let response = agent
            .get(url)
            .call()
            .with_context(|| format!("downloading {url}"))?;
        let mut bytes = Vec::new();
        response
            .into_reader()
            .take(1 << 20)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {url}"))?;
        Ok(bytes)
    }

    fn has_systemd(&self) -> bool {
        Path::new("/run/systemd/system").is_dir()
    }

    fn service_exists(&self, name: &str) -> anyhow::Result<bool> {
        let unit = if name.contains('.') {
            name.to_string()
        } else {
            format!("{name}.service")
        };
        let out = command(&["systemctl", "list-unit-files", "--no-legend", &unit])?;
        Ok(out.success && out.output.contains(&unit))
    }

    fn service_enabled(&self, name: &str) -> anyhow::Result<bool> {
        Ok(command(&["systemctl", "is-enabled", "--quiet", name])?.success)
    }

    fn service_active(&self, name: &str) -> anyhow::Result<bool> {
        Ok(command(&["systemctl", "is-active", "--quiet", name])?.success)
    }

    fn systemctl(&self, verb: &str, name: &str) -> anyhow::Result<()> {
        checked(&["systemctl", verb, name])
    }

    /// From netlink (`ip -o link`), not /sys/class/net: in a container sysfs can show
    /// another network namespace's interfaces (systemd-nspawn with a network namespace
    /// path shows the host's), while netlink always answers for this process's own.
    fn interface_by_mac(&self, mac: &str) -> anyhow::Result<Option<String>> {
        let out = command(&["ip", "-o", "link", "show"])?;
        if !out.success {
            bail!("`ip -o link show` failed: {}", out.output.trim());
        }
        Ok(parse_ip_link(&out.output)
            .into_iter()
            .find(|(_, address)| address.eq_ignore_ascii_case(mac))
            .map(|(name, _)| name))
    }

    fn ipv4_addresses(&self, device: Option<&str>) -> anyhow::Result<Vec<Ipv4Addr>> {
        let mut argv = vec!["ip", "-o", "-4", "addr", "show"];
        if let Some(dev) = device {
            argv.extend(["dev", dev]);
        }
        let out = command(&argv)?;
        if !out.success {
            // `ip` says "Device ... does not exist": no addresses there.
            return Ok(vec![]);
        }
        Ok(parse_ip_addr(&out.output))
    }

    fn run(&self, argv: &[String]) -> anyhow::Result<CommandOutput> {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        command(&argv)
    }
}

/// (interface, MAC) pairs in `ip -o link show` output ("3: eni1@if5: <...> ... link/ether
/// 02:00:00:e6:e4:c0 brd ..."); a veth's "@ifN" peer suffix is not part of its name.
fn parse_ip_link(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.nth(1)?.trim_end_matches(':');
            let name = name.split('@').next()?.to_string();
            words.find(|w| *w == "link/ether")?;
            Some((name, words.next()?.to_string()))
        })
        .collect()
}

/// The addresses in `ip -o -4 addr show` output ("2: eth0    inet 192.0.2.1/24 brd ...").
fn parse_ip_addr(text: &str) -> Vec<Ipv4Addr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_and_their_macs_are_read_from_ip_link_output() {
        let text = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n2: host0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether be:53:c9:e8:61:3c brd ff:ff:ff:ff:ff:ff link-netns hk-aw30414\n3: ens6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc mq state UP mode DEFAULT group default qlen 1000\\    link/ether 02:00:00:E6:E4:C0 brd ff:ff:ff:ff:ff:ff\n";
        assert_eq!(
            parse_ip_link(text),
            vec![
                ("host0".to_string(), "be:53:c9:e8:61:3c".to_string()),
                ("ens6".to_string(), "02:00:00:E6:E4:C0".to_string()),
            ]
        );
    }

    #[test]
    fn addresses_are_read_from_ip_one_line_output() {
        let text = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n2: eth0    inet 192.0.2.11/24 brd 192.0.2.255 scope global eth0\n";
        assert_eq!(
            parse_ip_addr(text),
            vec![Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 11)]
        );
    }
}
