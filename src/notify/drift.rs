//! Drift of the dedicated ENI's interface configuration: something other than hakit (a
//! network manager reconfiguring the link, amazon-ec2-net-utils, an operator) removed its
//! address, its policy rule or its table's routes. Then replies to traffic that arrived on
//! the ENI leave by the primary interface, the VPC drops them, and a failover to this node
//! looks done in EC2 while no client gets through. `hakit notify --reconcile` (every
//! node, every reconcile interval) puts back what is missing, from the file setup wrote
//! for the host's network manager (its MAC, address and table), and says what it put back.

use crate::config::Cluster;
use crate::config::Paths;
use crate::host::interface::InterfaceConfig;
use crate::host::Host;
use crate::render::eni_persist::{EniPersist, UnitFacts};
use std::net::Ipv4Addr;

/// The ENI's interface configuration and what of it is missing now; `None` when this
/// node has no configured ENI (no unit, or no interface with its MAC: detached).
pub struct Drift {
    pub interface: String,
    pub config: InterfaceConfig,
    /// e.g. "the policy rule from 192.0.2.100 lookup 10001"; empty when nothing drifted.
    pub missing: Vec<String>,
}

impl Drift {
    /// "X, Y on ens6".
    pub fn describe(&self) -> String {
        format!("{} on {}", self.missing.join(", "), self.interface)
    }
}

/// Read-only: what of the ENI's configuration is missing (for `hakit status`).
pub fn check_eni(host: &dyn Host, cluster: &Cluster) -> anyhow::Result<Option<Drift>> {
    let Some(facts) = persisted(host, &cluster.paths, &cluster.name)? else {
        return Ok(None);
    };
    // No interface with the ENI's MAC: the ENI is detached; nothing to configure here.
    let Some(interface) = host.interface_by_mac(&facts.mac)? else {
        return Ok(None);
    };
    let address: Ipv4Addr = facts.address.parse()?;
    let mask = u32::MAX
        .checked_shl(32 - u32::from(facts.prefix))
        .unwrap_or(0);
    let subnet = Ipv4Addr::from(u32::from(address) & mask);
    let config = InterfaceConfig::new(
        &interface,
        &facts.mac,
        &facts.address,
        &format!("{subnet}/{}", facts.prefix),
        facts.table.saturating_sub(10_000) as i32,
    )?;
    let text = |argv: &[&str]| -> anyhow::Result<String> { Ok(host.run_str(argv)?.output) };
    let table = config.table.to_string();
    let mut missing = Vec::new();
    if !host.ipv4_addresses(Some(&interface))?.contains(&address) {
        missing.push(format!("the address {address}/{}", facts.prefix));
    }
    let rule = format!("from {address} lookup {table}");
    if !text(&["ip", "rule", "show"])?.contains(&rule) {
        missing.push(format!("the policy rule {rule}"));
    }
    let default = format!("default via {}", config.gateway);
    if !text(&["ip", "-4", "route", "show", "table", &table])?.contains(&default) {
        missing.push(format!("the route {default} in table {table}"));
    }
    Ok(Some(Drift {
        interface,
        config,
        missing,
    }))
}

/// What the ENI's configuration file setup wrote says, in whichever form it took (the
/// network manager may have changed since, so every form's place is looked at).
pub fn persisted(
    host: &dyn Host,
    paths: &Paths,
    cluster: &str,
) -> anyhow::Result<Option<UnitFacts>> {
    let mut candidates: Vec<(EniPersist, std::path::PathBuf)> = [
        EniPersist::Networkd,
        EniPersist::NetworkManager,
        EniPersist::Ifupdown,
    ]
    .into_iter()
    .map(|p| (p, p.path(paths, cluster, "")))
    .collect();
    // amazon-ec2-net-utils' drop-in is in a directory named after the interface.
    if host.is_dir(&paths.network_dir) {
        for (name, _) in host.list_dir(&paths.network_dir)? {
            if let Some(interface) = name
                .strip_suffix(".network.d")
                .and_then(|n| n.strip_prefix("70-"))
            {
                let path = EniPersist::Ec2NetUtils.path(paths, cluster, interface);
                candidates.push((EniPersist::Ec2NetUtils, path));
            }
        }
    }
    for (persist, path) in candidates {
        if let Some(bytes) = host.read(&path)? {
            if let Some(facts) = persist.parse(&String::from_utf8_lossy(&bytes)) {
                return Ok(Some(facts));
            }
        }
    }
    Ok(None)
}

/// What was missing and is back (e.g. "the policy rule from 192.0.2.100 lookup 10001 on
/// ens6"), or `None` when nothing was missing or this node has no configured ENI.
pub fn repair_eni(host: &dyn Host, cluster: &Cluster) -> anyhow::Result<Option<String>> {
    let Some(drift) = check_eni(host, cluster)?.filter(|d| !d.missing.is_empty()) else {
        return Ok(None);
    };
    let (interface, missing) = (&drift.interface, &drift.missing);
    drift.config.bring_up(host).map_err(|e| {
        anyhow::anyhow!("putting back {} on {interface}: {e:#}", missing.join(", "))
    })?;
    Ok(Some(drift.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{FakeHost, Ownership};

    fn cluster() -> Cluster {
        crate::config::parse("name = \"demo\"\nmode = \"aws-eip\"\nprofile = \"haproxy\"\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n[[backend]]\naddress = \"192.0.2.21:3306\"\n[aws]\neip_allocation_id = \"eipalloc-0123456789abcdef0\"\n[vrrp]\nvirtual_router_id = 51\n").expect("cluster")
    }

    #[test]
    fn without_the_enis_unit_there_is_nothing_to_check() {
        let host = FakeHost::new();
        assert_eq!(repair_eni(&host, &cluster()).expect("repair"), None);
    }

    #[test]
    fn a_missing_address_is_named_and_put_back_from_the_unit() {
        let cluster = cluster();
        let config = InterfaceConfig::example();
        let unit = crate::render::eni_persist::render(
            EniPersist::NetworkManager,
            &cluster.paths,
            "demo",
            "n1",
            &config,
            None,
        )
        .expect("keyfile");
        let host = FakeHost::new();
        {
            let mut state = host.state.borrow_mut();
            state.files.insert(
                unit.path.clone(),
                (unit.contents.into_bytes(), Ownership::root(0o644)),
            );
            state
                .interfaces
                .insert("0e:11:22:33:44:55".into(), "ens6".into());
        }
        let restored = repair_eni(&host, &cluster)
            .expect("repair")
            .expect("something was missing");
        assert!(
            restored.contains("the address 192.0.2.140/25") && restored.ends_with("on ens6"),
            "{restored}"
        );
    }
}
