//! Which node of the cluster this host is, the role it starts in, and whether it holds
//! the master's address now: the one answer every command uses.

use crate::config::{Cluster, Mode, Node};
use crate::exit::UsageError;
use crate::host::Host;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The preferred master: the first node of the cluster file.
    Master,
    /// A standby node.
    Backup,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Backup => "backup",
        }
    }
}

/// This host's part of the cluster: the node, its role and its peers.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub role: Role,
    pub node: Node,
    pub peers: Vec<Node>,
}

/// Pick this host's node. The master is the first node; a backup is named with `--node`,
/// which may be left out when there is exactly one backup.
pub fn select(cluster: &Cluster, role: Role, node: Option<&str>) -> Result<Target, UsageError> {
    let names = || {
        cluster
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let index =
        match (role, node) {
            (_, Some(name)) => {
                let index = cluster
                    .nodes
                    .iter()
                    .position(|n| n.name == name)
                    .ok_or_else(|| {
                        UsageError::with_hint(
                            format!("--node {name}: no such node in the cluster file"),
                            format!("nodes are: {}", names()),
                        )
                    })?;
                match (role, index) {
                    (Role::Master, 0) | (Role::Backup, 1..) => index,
                    (Role::Master, _) => return Err(UsageError::with_hint(
                        format!(
                            "--node {name} is not the master: the master is the first node, {}",
                            cluster.nodes[0].name
                        ),
                        "use --role backup for this node, or reorder the nodes in the cluster file",
                    )),
                    (Role::Backup, _) => {
                        return Err(UsageError::with_hint(
                            format!("--node {name} is the first node, which is the master"),
                            "use --role master for it",
                        ))
                    }
                }
            }
            (Role::Master, None) => 0,
            (Role::Backup, None) if cluster.nodes.len() == 2 => 1,
            (Role::Backup, None) => {
                return Err(UsageError::with_hint(
                    "several backup nodes: say which one this host is",
                    format!("pass --node NAME (nodes are: {})", names()),
                ))
            }
        };
    let node = cluster.nodes[index].clone();
    let peers = cluster
        .nodes
        .iter()
        .filter(|n| n.name != node.name)
        .cloned()
        .collect();
    Ok(Target { role, node, peers })
}

/// Which node this host is: `requested` (checked against the cluster file), or the node
/// whose address is on one of this host's interfaces.
pub fn this_node(
    cluster: &Cluster,
    requested: Option<&str>,
    host: &dyn Host,
) -> anyhow::Result<String> {
    if let Some(name) = requested {
        if cluster.nodes.iter().any(|n| n.name == name) {
            return Ok(name.to_string());
        }
        let names: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
        return Err(UsageError::with_hint(
            format!("--node {name}: no such node in the cluster file"),
            format!("nodes are: {}", names.join(", ")),
        )
        .into());
    }
    // Without `ip` (or its output) no address matches, and the error says what to pass.
    let here = host.ipv4_addresses(None).unwrap_or_default();
    cluster
        .nodes
        .iter()
        .find(|n| here.contains(&n.address))
        .map(|n| n.name.clone())
        .ok_or_else(|| {
            UsageError::with_hint(
                "none of the cluster's node addresses is on this host",
                "pass --node NAME",
            )
            .into()
        })
}

/// Whether keepalived made this host master: the marker address on `lo` (aws-eip) or the
/// VIP on its interface (l2-vip) is up.
pub fn holds_master_address(cluster: &Cluster, host: &dyn Host) -> anyhow::Result<bool> {
    let (dev, addr) = match &cluster.mode {
        Mode::AwsEip(_) => ("lo", cluster.vrrp.marker_address()),
        Mode::L2Vip(vip) => (vip.interface.as_str(), vip.address),
    };
    Ok(host.ipv4_addresses(Some(dev))?.contains(&addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FakeHost;

    fn cluster() -> Cluster {
        crate::config::parse(
            r#"
name = "demo"
mode = "l2-vip"
profile = "haproxy"
[[node]]
name = "n1"
address = "192.0.2.11"
[[node]]
name = "n2"
address = "192.0.2.12"
[[backend]]
address = "192.0.2.21:3306"
[vip]
address = "192.0.2.100/24"
interface = "eth0"
[vrrp]
virtual_router_id = 51
"#,
        )
        .expect("cluster")
    }

    #[test]
    fn the_node_is_found_by_its_address_and_the_master_by_the_vip() {
        let c = cluster();
        let host = FakeHost::new();
        assert!(this_node(&c, None, &host).is_err());
        assert_eq!(this_node(&c, Some("n1"), &host).expect("named"), "n1");
        assert!(this_node(&c, Some("n9"), &host).is_err());
        host.state
            .borrow_mut()
            .addresses
            .insert("eth0".into(), vec!["192.0.2.12".parse().expect("ip")]);
        assert_eq!(this_node(&c, None, &host).expect("found"), "n2");
        assert!(!holds_master_address(&c, &host).expect("vip"));
        host.state.borrow_mut().addresses.insert(
            "eth0".into(),
            vec![
                "192.0.2.12".parse().expect("ip"),
                "192.0.2.100".parse().expect("ip"),
            ],
        );
        assert!(holds_master_address(&c, &host).expect("vip"));
    }
}
