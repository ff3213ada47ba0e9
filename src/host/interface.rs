//! Giving a dedicated ENI's interface its address, with policy routing so that replies to
//! traffic that arrived on it leave through it (without this a secondary ENI looks dead:
//! replies leave by the primary interface and the VPC drops them). Pure: builds the `ip`
//! commands; `render::eni_unit` persists the same configuration for systemd-networkd.

use std::net::Ipv4Addr;

/// Everything needed to configure one ENI's interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    pub interface: String,
    pub mac: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub subnet: Ipv4Addr,
    pub gateway: Ipv4Addr,
    /// Routing table (and rule priority) used only for this interface.
    pub table: u32,
}

impl InterfaceConfig {
    /// ens6 at 192.0.2.140/25 (device index 1, table 10001), for tests.
    #[cfg(test)]
    pub fn example() -> InterfaceConfig {
        InterfaceConfig::new(
            "ens6",
            "0e:11:22:33:44:55",
            "192.0.2.140",
            "192.0.2.128/25",
            1,
        )
        .expect("a valid example")
    }
}

impl InterfaceConfig {
    /// From the ENI's address, its subnet's CIDR and its device index.
    pub fn new(
        interface: &str,
        mac: &str,
        address: &str,
        subnet_cidr: &str,
        device_index: i32,
    ) -> anyhow::Result<Self> {
        let address: Ipv4Addr = address
            .parse()
            .map_err(|_| anyhow::anyhow!("ENI address {address:?} is not IPv4"))?;
        let (net, prefix) = subnet_cidr
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("subnet CIDR {subnet_cidr:?} has no prefix"))?;
        let subnet: Ipv4Addr = net
            .parse()
            .map_err(|_| anyhow::anyhow!("subnet {net:?} is not IPv4"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| anyhow::anyhow!("bad prefix in {subnet_cidr:?}"))?;
        // The VPC router is the subnet's first host address.
        let gateway = Ipv4Addr::from(u32::from(subnet) + 1);
        Ok(InterfaceConfig {
            interface: interface.to_string(),
            mac: mac.to_string(),
            address,
            prefix,
            subnet,
            gateway,
            table: 10_000 + device_index.max(0) as u32,
        })
    }

    fn argv(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    /// Run [`InterfaceConfig::up_commands`] on `host`: the first that fails is an error
    /// naming it, except the `ip rule del` before the add (the rule may not be there yet).
    pub fn bring_up(&self, host: &dyn super::Host) -> anyhow::Result<()> {
        for argv in self.up_commands() {
            let out = host.run(&argv)?;
            if !out.success && argv.get(2).map(String::as_str) != Some("del") {
                anyhow::bail!("`{}` failed: {}", argv.join(" "), out.output.trim());
            }
        }
        Ok(())
    }

    /// The live configuration, in order. Each command is safe to repeat.
    pub fn up_commands(&self) -> Vec<Vec<String>> {
        let addr = format!("{}/{}", self.address, self.prefix);
        let subnet = format!("{}/{}", self.subnet, self.prefix);
        let table = self.table.to_string();
        vec![
            Self::argv(&["ip", "link", "set", "dev", &self.interface, "up"]),
            Self::argv(&["ip", "addr", "replace", &addr, "dev", &self.interface]),
            Self::argv(&[
                "ip",
                "route",
                "replace",
                &subnet,
                "dev",
                &self.interface,
                "src",
                &self.address.to_string(),
                "table",
                &table,
            ]),
            Self::argv(&[
                "ip",
                "route",
                "replace",
                "default",
                "via",
                &self.gateway.to_string(),
                "dev",
                &self.interface,
                "table",
                &table,
            ]),
            // Delete first so a repeated setup does not stack identical rules.
            self.rule("del"),
            self.rule("add"),
        ]
    }

    /// `ip rule VERB from ADDRESS lookup TABLE priority TABLE`.
    fn rule(&self, verb: &str) -> Vec<String> {
        let table = self.table.to_string();
        Self::argv(&[
            "ip",
            "rule",
            verb,
            "from",
            &self.address.to_string(),
            "lookup",
            &table,
            "priority",
            &table,
        ])
    }

    /// Undo of `up_commands`; failures of these mean "already gone".
    pub fn down_commands(
        interface: &str,
        address: &str,
        prefix: u8,
        table: u32,
    ) -> Vec<Vec<String>> {
        let table = table.to_string();
        vec![
            Self::argv(&[
                "ip", "rule", "del", "from", address, "lookup", &table, "priority", &table,
            ]),
            Self::argv(&["ip", "route", "flush", "table", &table]),
            Self::argv(&[
                "ip",
                "addr",
                "del",
                &format!("{address}/{prefix}"),
                "dev",
                interface,
            ]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_table_and_commands_follow_the_subnet_and_index() {
        let c = InterfaceConfig::new(
            "ens6",
            "0e:11:22:33:44:55",
            "192.0.2.140",
            "192.0.2.128/25",
            1,
        )
        .expect("config");
        assert_eq!(c.gateway, Ipv4Addr::new(192, 0, 2, 129));
        assert_eq!(c.table, 10_001);
        let up: Vec<String> = c.up_commands().iter().map(|a| a.join(" ")).collect();
        assert!(
            up.contains(&"ip addr replace 192.0.2.140/25 dev ens6".to_string()),
            "{up:?}"
        );
        assert!(
            up.contains(&"ip rule add from 192.0.2.140 lookup 10001 priority 10001".to_string()),
            "{up:?}"
        );
        assert!(
            up.contains(
                &"ip route replace default via 192.0.2.129 dev ens6 table 10001".to_string()
            ),
            "{up:?}"
        );
    }
}
