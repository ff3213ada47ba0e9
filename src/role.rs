//! Which node of the cluster this host is, and the role it starts in.

use crate::config::{Cluster, Node};
use crate::exit::UsageError;
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
