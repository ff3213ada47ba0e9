//! The values templates see. Built once per render from the cluster, this node, the
//! profile and the secrets; secrets appear only where a file needs them.

use crate::config::proxysql::{Topology, ADMIN_USER, MONITOR_USER};
use crate::config::{Backend, Check, Cluster, Mode, Node, Paths, Vip, Vrrp};
use crate::profile::Profile;
use crate::role::Target;
use crate::secrets::Secrets;
use serde::Serialize;
use std::path::PathBuf;

/// First line of every file hakit writes; `hakit rollback --discover` looks for it.
pub const MARKER: &str = "Managed by hakit";

#[derive(Debug, Serialize)]
pub struct Context {
    pub header: String,
    pub cluster: ClusterInfo,
    pub role: &'static str,
    pub node: Node,
    pub peers: Vec<Node>,
    pub router_id: String,
    pub instance: String,
    pub state: &'static str,
    pub vrrp: Vrrp,
    pub advert_int: String,
    pub auth_pass: Option<String>,
    pub check_cfg: Check,
    pub checks: Vec<CheckInfo>,
    pub check_host: String,
    pub proxy: ProxyInfo,
    pub proxysql: ProxySqlInfo,
    pub backends: Vec<Backend>,
    pub vip: Option<Vip>,
    pub marker_address: String,
    pub notify_script: PathBuf,
    /// aws-eip mode with a reconcile interval: the periodic `hakit notify --reconcile`.
    pub reconcile: Option<ReconcileInfo>,
    pub cluster_file: PathBuf,
    pub paths: Paths,
    pub secrets: SecretValues,
}

#[derive(Debug, Serialize)]
pub struct ClusterInfo {
    pub name: String,
    pub mode: &'static str,
    pub profile: String,
}

/// `[proxysql]` with each user's password from the secrets file (only proxysql.cnf, a
/// root-only file, shows them).
#[derive(Debug, Serialize)]
pub struct ProxySqlInfo {
    pub writer_hostgroup: u32,
    pub reader_hostgroup: u32,
    pub backup_writer_hostgroup: u32,
    pub offline_hostgroup: u32,
    pub topology: Topology,
    pub read_write_split: bool,
    pub monitor_user: &'static str,
    pub admin_user: &'static str,
    pub users: Vec<ProxySqlUserInfo>,
}

#[derive(Debug, Serialize)]
pub struct ProxySqlUserInfo {
    pub name: String,
    pub password: String,
    pub default_hostgroup: u32,
    pub max_connections: u32,
}

#[derive(Debug, Serialize)]
pub struct CheckInfo {
    /// keepalived's name for the vrrp_script.
    pub id: String,
    pub path: PathBuf,
    pub user: String,
    pub template: String,
}

#[derive(Debug, Serialize)]
pub struct ReconcileInfo {
    pub path: PathBuf,
    pub interval: u32,
    /// The wrapper's own limit, below keepalived's so the script always exits 0 in time.
    pub timeout: u32,
}

#[derive(Debug, Serialize)]
pub struct ProxyInfo {
    pub service: String,
    pub process: String,
    pub port: u16,
    pub admin_port: Option<u16>,
    pub stats_port: Option<u16>,
    pub health_port: Option<u16>,
    pub config_dir: PathBuf,
    /// HAProxy's `inter` for the backends: "2s", or "500ms" when not whole seconds.
    pub backend_inter: String,
    pub backend_rise: u32,
    pub backend_fall: u32,
}

/// Secret values as templates see them. Never logged: `Context` is only handed to minijinja.
#[derive(Serialize)]
pub struct SecretValues {
    pub proxy_admin_password: String,
    pub proxy_monitor_password: String,
    pub stats_password: String,
}

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValues(***)")
    }
}

pub fn build(cluster: &Cluster, target: &Target, profile: &Profile, secrets: &Secrets) -> Context {
    let paths = cluster.paths.clone();
    let checks = profile
        .checks
        .iter()
        .map(|c| CheckInfo {
            id: format!("hakit_check_{}", c.name),
            path: paths.script_dir.join(format!("check_{}.sh", c.name)),
            user: c.user.clone(),
            template: c.template.clone(),
        })
        .collect();
    let vip = match &cluster.mode {
        Mode::L2Vip(vip) => Some(vip.clone()),
        Mode::AwsEip(_) => None,
    };
    let state = if cluster.vrrp.preempt && target.node.name == cluster.nodes[0].name {
        "MASTER"
    } else {
        "BACKUP"
    };
    Context {
        header: format!(
            "{MARKER} (cluster {}, node {}). Changes are replaced by `hakit setup` and undone by `hakit rollback`.",
            cluster.name, target.node.name
        ),
        cluster: ClusterInfo {
            name: cluster.name.clone(),
            mode: cluster.mode.name(),
            profile: cluster.profile.clone(),
        },
        role: target.role.as_str(),
        node: target.node.clone(),
        peers: target.peers.clone(),
        router_id: format!("hakit_{}_{}", cluster.name, target.node.name).replace('-', "_"),
        instance: format!("hakit_{}", cluster.name).replace('-', "_"),
        state,
        vrrp: cluster.vrrp.clone(),
        advert_int: cluster.vrrp.advert_int(),
        auth_pass: secrets
            .vrrp_auth
            .as_ref()
            .filter(|_| cluster.vrrp.auth)
            .map(|a| a.expose().to_string()),
        check_cfg: cluster.check.clone(),
        checks,
        check_host: "127.0.0.1".to_string(),
        proxy: ProxyInfo {
            service: profile.service.clone(),
            process: profile.process.clone(),
            port: cluster.proxy.port.unwrap_or(profile.port),
            admin_port: cluster.proxy.admin_port.or(profile.admin_port),
            stats_port: cluster.proxy.stats_port.or(profile.stats_port),
            health_port: profile.health_port,
            config_dir: proxy_config_dir(cluster, profile),
            backend_inter: match cluster.proxy.backend_check_ms {
                ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
                ms => format!("{ms}ms"),
            },
            backend_rise: cluster.proxy.backend_rise,
            backend_fall: cluster.proxy.backend_fall,
        },
        proxysql: proxysql_info(cluster, secrets),
        backends: cluster.backends.clone(),
        vip,
        marker_address: cluster.vrrp.marker_address().to_string(),
        notify_script: paths.script_dir.join("notify.sh"),
        reconcile: match &cluster.mode {
            Mode::AwsEip(aws) if aws.reconcile_interval > 0 => Some(ReconcileInfo {
                path: paths.script_dir.join("reconcile.sh"),
                interval: aws.reconcile_interval,
                timeout: aws.reconcile_interval.saturating_sub(1).max(1),
            }),
            _ => None,
        },
        cluster_file: paths.cluster_file(),
        paths,
        secrets: SecretValues {
            proxy_admin_password: secrets.proxy_admin_password.expose().to_string(),
            proxy_monitor_password: secrets.proxy_monitor_password.expose().to_string(),
            stats_password: secrets.stats_password.expose().to_string(),
        },
    }
}

fn proxysql_info(cluster: &Cluster, secrets: &Secrets) -> ProxySqlInfo {
    let p = &cluster.proxysql;
    ProxySqlInfo {
        writer_hostgroup: p.writer_hostgroup,
        reader_hostgroup: p.reader_hostgroup,
        backup_writer_hostgroup: p.backup_writer_hostgroup,
        offline_hostgroup: p.offline_hostgroup,
        topology: p.topology,
        read_write_split: p.read_write_split,
        monitor_user: MONITOR_USER,
        admin_user: ADMIN_USER,
        users: p
            .users
            .iter()
            .map(|u| ProxySqlUserInfo {
                name: u.name.clone(),
                // Setup refuses a user without one; `plan` without the secrets file
                // renders an empty one it never writes.
                password: secrets
                    .proxysql_users
                    .get(&u.name)
                    .map(|s| s.expose().to_string())
                    .unwrap_or_default(),
                default_hostgroup: u.default_hostgroup,
                max_connections: u.max_connections,
            })
            .collect(),
    }
}

pub fn proxy_config_dir(cluster: &Cluster, profile: &Profile) -> PathBuf {
    cluster
        .paths
        .proxy_config_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&profile.config_dir))
}
