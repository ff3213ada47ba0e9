//! The cluster file exactly as written by the user: every key optional, nothing checked.
//! `validate` turns it into a [`crate::config::Cluster`]; keeping the two apart lets every
//! problem be reported at once, each naming its key.

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ClusterFile {
    pub name: Option<String>,
    pub mode: Option<String>,
    pub profile: Option<String>,
    #[serde(default, rename = "node", skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeFile>,
    #[serde(default, rename = "backend", skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip: Option<VipFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrrp: Option<VrrpFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxysql: Option<ProxySqlFile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<PathsFile>,
}

/// `[proxysql]`: hostgroups and the users applications log in as (proxysql profile).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ProxySqlFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer_hostgroup: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader_hostgroup: Option<i64>,
    /// Galera only: where ProxySQL puts writers beyond `max_writers`, and unhealthy nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_writer_hostgroup: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_hostgroup: Option<i64>,
    /// "async" (replication; `read_only` decides writer and readers) or "galera".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_write_split: Option<bool>,
    #[serde(default, rename = "user", skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<ProxySqlUserFile>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ProxySqlUserFile {
    pub name: Option<String>,
    /// "writer" or "reader".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_hostgroup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct NodeFile {
    pub name: Option<String>,
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct BackendFile {
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct AwsFile {
    pub eip_allocation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dest_check: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconcile_interval: Option<f64>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct VipFile {
    pub address: Option<String>,
    pub interface: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct VrrpFile {
    pub virtual_router_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advert_int: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preempt: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicast: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_delay: Option<f64>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct CheckFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rise: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fall: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_process: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct ProxyFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats_port: Option<i64>,
    /// How the proxy checks each backend (HAProxy): every this many seconds, up after
    /// `backend_rise` passes, down after `backend_fall` failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_check_interval: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_rise: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_fall: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct PathsFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalived_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_config_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hakit_bin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nm_connection_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ifupdown_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfiles_dir: Option<String>,
}
