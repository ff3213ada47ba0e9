//! Which network manager owns this host's interfaces. hakit persists the dedicated ENI's
//! configuration as a systemd-networkd unit; where something else manages the interfaces,
//! plan and setup say what that means (the ENI's configuration after a reboot comes back
//! only through `hakit notify --reconcile`'s drift repair).

use crate::host::Host;
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
    let active = |name: &str| host.has_systemd() && host.service_active(name).unwrap_or(false);
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

    /// What an aws-eip node's operator must know about the ENI's configuration here.
    pub fn eni_warning(self) -> Option<String> {
        match self {
            NetStack::Networkd {
                ec2_net_utils: false,
            } => None,
            NetStack::Networkd {
                ec2_net_utils: true,
            } => Some(
                "amazon-ec2-net-utils configures every attached ENI itself and may remove the ENI's policy rule and routes on ENI changes: `hakit notify --reconcile` puts them back (drift repair, one line in the failover log each time)".into(),
            ),
            NetStack::Unknown => None,
            other => Some(format!(
                "{} manages this host's interfaces, but hakit persists the ENI's address and policy routing only as a systemd-networkd unit: after a reboot they come back when `hakit notify --reconcile` first runs (drift repair, within aws.reconcile_interval of keepalived starting; keep it on), not at boot",
                other.as_str()
            )),
        }
    }
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
        assert_eq!(networkd.eni_warning(), None);
        let al2023 = detect(&host(&["systemd-networkd"], &[EC2_NET_UTILS_UNIT]));
        assert_eq!(
            al2023,
            NetStack::Networkd {
                ec2_net_utils: true
            }
        );
        assert!(al2023
            .eni_warning()
            .is_some_and(|w| w.contains("drift repair")));
        let nm = detect(&host(&["NetworkManager", "systemd-networkd"], &[]));
        assert_eq!(nm, NetStack::NetworkManager);
        assert!(nm
            .eni_warning()
            .is_some_and(|w| w.starts_with("NetworkManager manages")));
        let ifupdown = detect(&host(&["networking"], &["/etc/network/interfaces"]));
        assert_eq!(ifupdown, NetStack::Ifupdown);
        assert_eq!(detect(&host(&[], &[])), NetStack::Unknown);
    }
}
