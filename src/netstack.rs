//! Which network manager owns this host's interfaces, and so in which form the dedicated
//! ENI's configuration is kept across reboots and network reloads (`EniPersist`).

use crate::host::Host;
use crate::render::eni_persist::EniPersist;
use crate::render::eni_stanza;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetStack {
    /// systemd-networkd; with amazon-ec2-net-utils on top (Amazon Linux 2023).
    Networkd {
        ec2_net_utils: bool,
    },
    NetworkManager,
    Ifupdown,
    /// None of them runs (or no systemd to ask): nothing is said.
    Unknown,
}

/// amazon-ec2-net-utils' own networkd configuration for every ENI.
const EC2_NET_UTILS_UNIT: &str = "/usr/lib/systemd/network/80-ec2.network";

pub fn detect(host: &dyn Host) -> NetStack {
    let active = |name: &str| host.service_running(name).unwrap_or(false);
    if active("NetworkManager") {
        NetStack::NetworkManager
    } else if active("systemd-networkd") {
        NetStack::Networkd {
            ec2_net_utils: host
                .read(Path::new(EC2_NET_UTILS_UNIT))
                .is_ok_and(|b| b.is_some()),
        }
    } else if host
        .read(Path::new("/etc/network/interfaces"))
        .is_ok_and(|b| b.is_some())
        && active("networking")
    {
        NetStack::Ifupdown
    } else {
        NetStack::Unknown
    }
}

impl NetStack {
    pub fn as_str(self) -> &'static str {
        match self {
            NetStack::Networkd {
                ec2_net_utils: false,
            } => "systemd-networkd",
            NetStack::Networkd {
                ec2_net_utils: true,
            } => "systemd-networkd with amazon-ec2-net-utils",
            NetStack::NetworkManager => "NetworkManager",
            NetStack::Ifupdown => "ifupdown",
            NetStack::Unknown => "no known network manager",
        }
    }

    /// The form the ENI's configuration takes here. With no known manager running (no
    /// systemd, a container), a systemd-networkd unit: what a reboot into networkd reads.
    pub fn eni_persist(self) -> EniPersist {
        match self {
            NetStack::Networkd {
                ec2_net_utils: false,
            }
            | NetStack::Unknown => EniPersist::Networkd,
            NetStack::Networkd {
                ec2_net_utils: true,
            } => EniPersist::Ec2NetUtils,
            NetStack::NetworkManager => EniPersist::NetworkManager,
            NetStack::Ifupdown => EniPersist::Ifupdown,
        }
    }
}

/// Why the ENI's stanza would not be read on this ifupdown host (`/etc/network/interfaces`
/// does not source `dir`), with the fix; `None` when it is.
pub fn ifupdown_problem(host: &dyn Host, dir: &Path) -> anyhow::Result<Option<String>> {
    let main = dir
        .parent()
        .unwrap_or(Path::new("/etc/network"))
        .join("interfaces");
    let text = host
        .read(&main)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok((!eni_stanza::is_sourced(&text, dir)).then(|| {
        format!(
            "{} does not read {}: ifupdown would not see the ENI's stanza, and its configuration would be lost at the next reboot; add the line `source {}/*` to it (Debian's default has it), or set paths.ifupdown_dir to a directory it sources",
            main.display(),
            dir.display(),
            dir.display()
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{FakeHost, Ownership};

    fn host(running: &[&str], files: &[&str]) -> FakeHost {
        let mut host = FakeHost::new();
        host.systemd = true;
        {
            let mut state = host.state.borrow_mut();
            state.running.extend(running.iter().map(|s| s.to_string()));
            for f in files {
                state
                    .files
                    .insert(f.into(), (b"x".to_vec(), Ownership::root(0o644)));
            }
        }
        host
    }

    #[test]
    fn the_running_manager_is_found_and_each_says_what_it_means_for_the_eni() {
        let networkd = detect(&host(&["systemd-networkd"], &[]));
        assert_eq!(
            networkd,
            NetStack::Networkd {
                ec2_net_utils: false
            }
        );
        assert_eq!(networkd.eni_persist(), EniPersist::Networkd);
        let al2023 = detect(&host(&["systemd-networkd"], &[EC2_NET_UTILS_UNIT]));
        assert_eq!(
            al2023,
            NetStack::Networkd {
                ec2_net_utils: true
            }
        );
        assert_eq!(al2023.eni_persist(), EniPersist::Ec2NetUtils);
        let nm = detect(&host(&["NetworkManager", "systemd-networkd"], &[]));
        assert_eq!(nm, NetStack::NetworkManager);
        assert_eq!(nm.eni_persist(), EniPersist::NetworkManager);
        let ifupdown = detect(&host(&["networking"], &["/etc/network/interfaces"]));
        assert_eq!(ifupdown, NetStack::Ifupdown);
        assert_eq!(ifupdown.eni_persist(), EniPersist::Ifupdown);
        assert_eq!(detect(&host(&[], &[])), NetStack::Unknown);
        assert_eq!(NetStack::Unknown.eni_persist(), EniPersist::Networkd);
    }

    #[test]
    fn an_ifupdown_host_that_does_not_source_the_stanza_directory_is_told_how_to() {
        let dir = Path::new("/etc/network/interfaces.d");
        let sourced = host(&[], &[]);
        sourced.state.borrow_mut().files.insert(
            "/etc/network/interfaces".into(),
            (
                b"source /etc/network/interfaces.d/*\n".to_vec(),
                Ownership::root(0o644),
            ),
        );
        assert_eq!(ifupdown_problem(&sourced, dir).expect("read"), None);
        let problem = ifupdown_problem(&host(&[], &["/etc/network/interfaces"]), dir)
            .expect("read")
            .expect("a problem");
        assert!(
            problem.contains("source /etc/network/interfaces.d/*")
                && problem.contains("paths.ifupdown_dir"),
            "{problem}"
        );
    }
}
