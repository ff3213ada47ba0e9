//! Cross-checks between a cluster and the profile it names: backends where the profile
//! needs them (and none where it runs on the databases), ports that do not collide.

use super::{Cluster, ConfigIssue};
use crate::profile::Profile;

/// Cross-checks between a cluster and its profile.
pub fn check_cluster(profile: &Profile, cluster: &Cluster) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    if profile.needs_backends && cluster.backends.is_empty() {
        issues.push(ConfigIssue::new(
            "backend",
            format!(
                "the {} profile needs at least one database behind the proxy",
                profile.name
            ),
            "add a [[backend]] table with `address = \"10.0.1.21:3306\"` for every database",
        ));
    }
    if !profile.needs_backends && !cluster.backends.is_empty() {
        issues.push(ConfigIssue::new(
            "backend",
            format!(
                "the {} profile runs on the database nodes and has no backends",
                profile.name
            ),
            "remove the [[backend]] tables",
        ));
    }
    let port = cluster.proxy.port.unwrap_or(profile.port);
    let admin = cluster.proxy.admin_port.or(profile.admin_port);
    let stats = cluster.proxy.stats_port.or(profile.stats_port);
    if admin == Some(port) || stats == Some(port) {
        issues.push(ConfigIssue::new(
            "proxy.port",
            format!(
                "port {port} is also the {} profile's admin or stats port",
                profile.name
            ),
            "choose another proxy.port, or move the admin/stats port",
        ));
    }
    issues
}
