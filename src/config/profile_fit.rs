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
    if profile.process != "proxysql" && cluster.proxysql != super::proxysql::ProxySql::default() {
        issues.push(ConfigIssue::new(
            "proxysql",
            format!(
                "the {} profile does not run ProxySQL, so [proxysql] would do nothing",
                profile.name
            ),
            "remove the [proxysql] table, or use `profile = \"proxysql\"`",
        ));
    }
    let port = cluster.proxy.port.unwrap_or(profile.port);
    let admin = cluster.proxy.admin_port.or(profile.admin_port);
    let stats = cluster.proxy.stats_port.or(profile.stats_port);
    if admin == Some(port) || stats == Some(port) || profile.health_port == Some(port) {
        issues.push(ConfigIssue::new(
            "proxy.port",
            format!(
                "port {port} is also the {} profile's admin, stats or health port",
                profile.name
            ),
            "choose another proxy.port, or move the admin/stats port",
        ));
    }
    issues
}

/// Fit the cluster to this host: in a container, keepalived's `track_process` cannot work
/// (keepalived would stay in FAULT and never hold the address), so it is turned off on
/// this node. Returns the warning to print, if any.
pub fn fit_to_host(cluster: &mut Cluster, container: Option<&str>) -> Option<String> {
    let kind = container?;
    if !cluster.check.track_process {
        return None;
    }
    cluster.check.track_process = false;
    Some(format!(
        "this host is a container ({kind}): keepalived's track_process needs the kernel's process connector, which containers refuse, so keepalived would stay in FAULT; track_process is off on this node (the protocol-level checks still watch the proxy). Set `[check] track_process = false` in the cluster file to say so and silence this."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(track: bool) -> Cluster {
        let text = format!(
            "name = \"demo\"\nmode = \"l2-vip\"\nprofile = \"haproxy\"\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n[[backend]]\naddress = \"192.0.2.21:3306\"\n[vip]\naddress = \"192.0.2.100/24\"\ninterface = \"eth0\"\n[vrrp]\nvirtual_router_id = 51\n[check]\ntrack_process = {track}\n"
        );
        crate::config::parse(&text).expect("cluster")
    }

    #[test]
    fn track_process_is_turned_off_in_a_container_with_a_warning_and_kept_elsewhere() {
        let mut c = cluster(true);
        assert_eq!(fit_to_host(&mut c, None), None);
        assert!(c.check.track_process);
        let warning = fit_to_host(&mut c, Some("lxc")).expect("a warning");
        assert!(warning.contains("container (lxc)") && warning.contains("track_process = false"));
        assert!(!c.check.track_process);
        let mut off = cluster(false);
        assert_eq!(
            fit_to_host(&mut off, Some("docker")),
            None,
            "already off: nothing to say"
        );
    }
}
