//! The cluster file: one TOML file describing the whole cluster, the same on every node.

mod cluster;
mod error;
pub mod file;
mod load;
pub mod validate;

pub use cluster::{
    format_centis, Aws, Backend, Check, Cluster, Mode, ModeKind, Node, Paths, Proxy, Vip, Vrrp,
};
pub use error::{ConfigError, ConfigIssue};
pub use file::ClusterFile;
pub use load::{load, parse, parse_toml, read};
