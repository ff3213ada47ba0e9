//! The validated cluster: every value typed, in range and consistent with the others.

use serde::Serialize;
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    pub name: String,
    pub mode: Mode,
    /// Profile name (shipped) or path to a profile file.
    pub profile: String,
    /// In priority order: the first node is the preferred master.
    pub nodes: Vec<Node>,
    pub backends: Vec<Backend>,
    pub vrrp: Vrrp,
    pub check: Check,
    pub proxy: Proxy,
    /// `[proxysql]`: hostgroups and users (proxysql profile; defaults otherwise).
    pub proxysql: super::proxysql::ProxySql,
    pub paths: Paths,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Mode {
    /// An Elastic IP moved between per-node dedicated ENIs by `hakit notify`.
    AwsEip(Aws),
    /// A virtual IP on a shared L2 segment, moved by keepalived with gratuitous ARP.
    L2Vip(Vip),
}

impl Mode {
    pub fn kind(&self) -> ModeKind {
        match self {
            Mode::AwsEip(_) => ModeKind::AwsEip,
            Mode::L2Vip(_) => ModeKind::L2Vip,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }
}

/// Which mode, without its settings (plans and status reports name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeKind {
    AwsEip,
    L2Vip,
}

impl ModeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModeKind::AwsEip => "aws-eip",
            ModeKind::L2Vip => "l2-vip",
        }
    }
}

impl std::fmt::Display for ModeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aws {
    pub eip_allocation_id: String,
    pub region: Option<String>,
    pub security_group_ids: Vec<String>,
    pub source_dest_check: bool,
    /// EC2 endpoint override (a VPC interface endpoint, or a lab's emulator).
    pub endpoint_url: Option<String>,
    /// Seconds between `hakit notify --reconcile` runs on each node; 0 turns it off.
    pub reconcile_interval: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vip {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub interface: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub name: String,
    pub address: Ipv4Addr,
    pub instance_id: Option<String>,
    pub priority: u8,
    /// Interface carrying VRRP on this node.
    pub interface: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backend {
    pub host: String,
    pub port: u16,
    pub weight: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vrrp {
    pub virtual_router_id: u8,
    /// Advertisement interval in centiseconds (VRRPv3 resolution).
    pub advert_int_cs: u32,
    pub version: u8,
    pub preempt: bool,
    pub unicast: bool,
    /// VRRPv2 PASS authentication with the secret `vrrp_auth`.
    pub auth: bool,
    /// Seconds keepalived waits after starting before its VRRP instances run (0: none):
    /// on a node that boots fast, so that it hears the current master before deciding.
    pub startup_delay: u32,
}

impl Vrrp {
    /// The link-local address keepalived puts on `lo` while this node is master in
    /// aws-eip mode (it needs at least one VIP); `hakit status` reads the state from it.
    pub fn marker_address(&self) -> Ipv4Addr {
        Ipv4Addr::new(169, 254, 250, self.virtual_router_id)
    }

    /// `advert_int` as keepalived wants it: whole seconds without a fraction.
    pub fn advert_int(&self) -> String {
        format_centis(self.advert_int_cs)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Seconds between runs of the health-check script (whole seconds: keepalived 2.2.7).
    pub interval: u32,
    pub timeout: u32,
    pub rise: u32,
    pub fall: u32,
    /// 0: a failed check puts the node in FAULT (priority-0 advert, fastest takeover).
    pub weight: i32,
    /// Also track the proxy process with keepalived's process connector.
    pub track_process: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proxy {
    /// Client port; `None` means the profile's default.
    pub port: Option<u16>,
    pub admin_port: Option<u16>,
    pub stats_port: Option<u16>,
    /// The proxy's checks of each backend: interval in milliseconds, rise and fall counts.
    pub backend_check_ms: u32,
    pub backend_rise: u32,
    pub backend_fall: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paths {
    pub keepalived_dir: PathBuf,
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub script_dir: PathBuf,
    pub log_dir: PathBuf,
    pub run_dir: PathBuf,
    /// `None` means the profile's default.
    pub proxy_config_dir: Option<PathBuf>,
    /// The hakit binary the failover hook (`notify.sh`, `reconcile.sh`) runs. `None` in the
    /// file means the binary that runs setup; `commands::load` resolves it before rendering.
    pub hakit_bin: Option<PathBuf>,
    /// systemd-networkd's configuration: the ENI's unit (or, with amazon-ec2-net-utils, a
    /// drop-in for the unit it generates), and drop-ins keeping keepalived's addresses.
    pub network_dir: PathBuf,
    /// NetworkManager's keyfile connections: the ENI's connection where NM runs.
    pub nm_connection_dir: PathBuf,
    /// ifupdown's `source`d stanza directory: the ENI's stanza on ifupdown hosts.
    pub ifupdown_dir: PathBuf,
    /// systemd-tmpfiles configuration: recreates `run_dir` at every boot (`/run` is a tmpfs).
    pub tmpfiles_dir: PathBuf,
}

impl Paths {
    /// Where `hakit setup` installs the cluster file on each node.
    pub fn cluster_file(&self) -> PathBuf {
        self.config_dir.join("cluster.toml")
    }

    /// The root-only secrets file.
    pub fn secrets_file(&self) -> PathBuf {
        self.config_dir.join("secrets.toml")
    }
}

/// 150 -> "1.5", 100 -> "1", 5 -> "0.05".
pub fn format_centis(cs: u32) -> String {
    let whole = cs / 100;
    let frac = cs % 100;
    if frac == 0 {
        whole.to_string()
    } else if frac.is_multiple_of(10) {
        format!("{whole}.{}", frac / 10)
    } else {
        format!("{whole}.{frac:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::format_centis;

    #[test]
    fn centiseconds_print_like_keepalived_expects() {
        assert_eq!(format_centis(100), "1");
        assert_eq!(format_centis(150), "1.5");
        assert_eq!(format_centis(20), "0.2");
        assert_eq!(format_centis(5), "0.05");
        assert_eq!(format_centis(4095), "40.95");
    }
}
