//! The cluster file: one TOML file describing the whole cluster, the same on every node.

mod cluster;
pub mod file;
mod installed;
mod load;
mod profile_fit;
pub mod proxysql;
pub mod validate;

pub use crate::user_file::{parse_toml, ConfigError, ConfigIssue};
pub use cluster::{
    format_centis, Aws, Backend, Check, Cluster, Mode, ModeKind, Node, Paths, Proxy, Vip, Vrrp,
};
pub use file::ClusterFile;
pub use installed::with_absolute_profile;
pub use load::{load, parse, read};
pub use profile_fit::{check_cluster, fit_to_host};
pub use validate::is_shell_plain;
