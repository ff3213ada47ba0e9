//! The systemd-networkd unit that persists the dedicated ENI's configuration (address and
//! policy routing) across reboots: its path, owner and template (`networkd-eni.network.j2`,
//! rendered with the other forms' context by `eni_persist`), and the parser that reads it
//! back (drift repair, `rollback --discover`); the round trip is tested here.

use std::path::{Path, PathBuf};

pub const TEMPLATE: &str = "networkd-eni.network.j2";

/// Where the unit of `cluster` goes in `network_dir`.
pub fn path(network_dir: &Path, cluster: &str) -> PathBuf {
    network_dir.join(format!("70-hakit-{cluster}.network"))
}

/// Who a unit belongs to, in its header: how `rollback --discover` tells this node's unit
/// from another cluster's or node's.
pub fn owner(cluster: &str, node: &str) -> String {
    format!("(cluster {cluster}, node {node})")
}

/// What a unit says about the interface: its MAC, address, prefix and routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFacts {
    pub mac: String,
    pub address: String,
    pub prefix: u8,
    pub table: u32,
}

/// Read back a unit `networkd-eni.network.j2` rendered; `None` for anything else.
pub fn parse(unit: &str) -> Option<UnitFacts> {
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(str::trim))
            .map(String::from)
    };
    let (address, table, mac) = (value("Address=")?, value("Table=")?, value("MACAddress=")?);
    let (address, prefix) = address.split_once('/')?;
    Some(UnitFacts {
        mac,
        address: address.to_string(),
        prefix: prefix.parse().ok()?,
        table: table.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::interface::InterfaceConfig;
    use crate::render::MARKER;

    /// The unit for the example interface, in a cluster whose network_dir is `network_dir`.
    fn render(network_dir: &str) -> super::super::RenderedFile {
        let mut paths = crate::config::parse("name = \"demo\"\nmode = \"aws-eip\"\nprofile = \"haproxy\"\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n[[backend]]\naddress = \"192.0.2.21:3306\"\n[aws]\neip_allocation_id = \"eipalloc-0123456789abcdef0\"\n[vrrp]\nvirtual_router_id = 51\n").expect("cluster").paths;
        paths.network_dir = PathBuf::from(network_dir);
        super::super::eni_persist::render(
            super::super::eni_persist::EniPersist::Networkd,
            &paths,
            "demo",
            "n1",
            &InterfaceConfig::example(),
            None,
        )
        .expect("render")
    }

    #[test]
    fn the_unit_reads_back_as_what_was_written() {
        let file = render("/etc/systemd/network");
        assert_eq!(
            file.path,
            PathBuf::from("/etc/systemd/network/70-hakit-demo.network")
        );
        assert!(file
            .contents
            .starts_with(&format!("# {MARKER} (cluster demo, node n1)")));
        assert!(file.contents.contains("Gateway=192.0.2.129\n"));
        assert!(file.contents.ends_with("Priority=10001\n"));
        assert_eq!(
            parse(&file.contents),
            Some(UnitFacts {
                mac: "0e:11:22:33:44:55".into(),
                address: "192.0.2.140".into(),
                prefix: 25,
                table: 10001,
            })
        );
    }

    /// Byte for byte what earlier releases wrote, so an upgrade rewrites nothing.
    #[test]
    fn the_unit_is_unchanged_from_earlier_releases() {
        let file = render("/n");
        let earlier = format!(
            "# {MARKER} (cluster demo, node n1). Removed by `hakit rollback`.\n# The dedicated ENI's interface: its address, and policy routing so replies leave through it.\n[Match]\nMACAddress=0e:11:22:33:44:55\n\n[Network]\nDHCP=no\nAddress=192.0.2.140/25\n\n[Route]\nDestination=192.0.2.128/25\nTable=10001\n\n[Route]\nGateway=192.0.2.129\nTable=10001\n\n[RoutingPolicyRule]\nFrom=192.0.2.140\nTable=10001\nPriority=10001\n"
        );
        assert_eq!(file.contents, earlier);
    }

    #[test]
    fn other_files_do_not_parse() {
        assert_eq!(parse("[Match]\nName=eth0\n"), None);
        assert_eq!(parse("Address=192.0.2.1\nTable=1\nMACAddress=x\n"), None);
    }
}
