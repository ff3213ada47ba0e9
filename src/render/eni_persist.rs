//! How the dedicated ENI's configuration (address and policy routing) is kept across
//! reboots and network reloads: in the form of the network manager that owns the host's
//! interfaces. systemd-networkd gets hakit's own unit ([`eni_unit`]); where
//! amazon-ec2-net-utils generates a unit for every ENI, a drop-in for that unit
//! ([`eni_ec2_dropin`]); NetworkManager a keyfile connection bound to the ENI's MAC
//! ([`eni_keyfile`]); ifupdown a stanza in its `source`d directory ([`eni_stanza`]).

use super::{eni_ec2_dropin, eni_keyfile, eni_stanza, eni_unit, FileKind, RenderedFile, MARKER};
use crate::config::Paths;
use crate::host::interface::InterfaceConfig;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub use eni_unit::UnitFacts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EniPersist {
    Networkd,
    Ec2NetUtils,
    NetworkManager,
    Ifupdown,
}

impl EniPersist {
    pub const ALL: [EniPersist; 4] = [
        EniPersist::Networkd,
        EniPersist::Ec2NetUtils,
        EniPersist::NetworkManager,
        EniPersist::Ifupdown,
    ];

    /// "a systemd-networkd unit", for plan and setup.
    pub fn describe(self) -> &'static str {
        match self {
            EniPersist::Networkd => "a systemd-networkd unit",
            EniPersist::Ec2NetUtils => "a drop-in for amazon-ec2-net-utils' networkd unit",
            EniPersist::NetworkManager => "a NetworkManager keyfile connection",
            EniPersist::Ifupdown => "an ifupdown stanza",
        }
    }

    /// Where the file goes; `interface` names amazon-ec2-net-utils' unit (and so the
    /// drop-in's directory), and is ignored by the other forms.
    pub fn path(self, paths: &Paths, cluster: &str, interface: &str) -> PathBuf {
        match self {
            EniPersist::Networkd => eni_unit::path(&paths.network_dir, cluster),
            EniPersist::Ec2NetUtils => eni_ec2_dropin::path(&paths.network_dir, interface, cluster),
            EniPersist::NetworkManager => eni_keyfile::path(&paths.nm_connection_dir, cluster),
            EniPersist::Ifupdown => eni_stanza::path(&paths.ifupdown_dir, cluster),
        }
    }

    /// The facts a file of this form states, `None` for anything else.
    pub fn parse(self, text: &str) -> Option<UnitFacts> {
        match self {
            EniPersist::Networkd => eni_unit::parse(text),
            EniPersist::Ec2NetUtils => eni_ec2_dropin::parse(text),
            EniPersist::NetworkManager => eni_keyfile::parse(text),
            EniPersist::Ifupdown => eni_stanza::parse(text),
        }
    }
}

/// The file for `config`, owned by `cluster`'s `node`.
pub fn render(
    persist: EniPersist,
    paths: &Paths,
    cluster: &str,
    node: &str,
    config: &InterfaceConfig,
    templates: Option<&Path>,
) -> anyhow::Result<RenderedFile> {
    let header = format!(
        "{MARKER} {}. Removed by `hakit rollback`.",
        eni_unit::owner(cluster, node)
    );
    render_with(persist, paths, cluster, config, templates, header)
}

/// What `hakit render` shows before setup: the same file with example values, said so in
/// its header (setup fills in the ENI's interface, MAC, address and subnet from EC2).
pub fn preview(
    persist: EniPersist,
    paths: &Paths,
    cluster: &str,
    node: &str,
    templates: Option<&Path>,
) -> anyhow::Result<RenderedFile> {
    let example =
        InterfaceConfig::new("eth1", "0e:00:00:00:00:00", "192.0.2.10", "192.0.2.0/24", 1)?;
    let header = format!(
        "{MARKER} {}. EXAMPLE VALUES: setup writes this file with the ENI's interface, MAC, address and subnet from EC2.",
        eni_unit::owner(cluster, node)
    );
    render_with(persist, paths, cluster, &example, templates, header)
}

fn render_with(
    persist: EniPersist,
    paths: &Paths,
    cluster: &str,
    config: &InterfaceConfig,
    templates: Option<&Path>,
    header: String,
) -> anyhow::Result<RenderedFile> {
    let ctx = minijinja::context! {
        header => header,
        interface => config.interface,
        mac => config.mac,
        address => config.address.to_string(),
        prefix => config.prefix,
        subnet => config.subnet.to_string(),
        gateway => config.gateway.to_string(),
        table => config.table,
        id => eni_keyfile::id(cluster),
        uuid => eni_keyfile::uuid(cluster),
    };
    let (template, kind) = match persist {
        EniPersist::Networkd => (eni_unit::TEMPLATE, FileKind::NetworkUnit),
        EniPersist::Ec2NetUtils => (eni_ec2_dropin::TEMPLATE, FileKind::NetworkDropIn),
        EniPersist::NetworkManager => (eni_keyfile::TEMPLATE, FileKind::NetworkUnit),
        EniPersist::Ifupdown => (eni_stanza::TEMPLATE, FileKind::NetworkUnit),
    };
    let mut file = super::network_file(
        persist.path(paths, cluster, &config.interface),
        kind,
        template,
        ctx,
        templates,
    )?;
    if persist == EniPersist::NetworkManager {
        // NetworkManager ignores a keyfile that anyone but root can read.
        file.mode = 0o600;
    }
    Ok(file)
}

/// "(MAC 0e:11:22:33:44:55)" in a comment: the ENI's MAC where the format itself does not
/// name it.
pub(super) fn mac_in_comment(text: &str) -> Option<String> {
    text.lines().filter(|l| l.starts_with('#')).find_map(|l| {
        l.split_once("(MAC ")?
            .1
            .split(')')
            .next()
            .map(str::to_string)
    })
}

/// "192.0.2.140/25" -> ("192.0.2.140", 25).
pub(super) fn address_prefix(value: &str) -> Option<(String, u8)> {
    let (address, prefix) = value.trim().split_once('/')?;
    Some((address.to_string(), prefix.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Paths {
        crate::config::parse("name = \"demo\"\nmode = \"aws-eip\"\nprofile = \"haproxy\"\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n[[backend]]\naddress = \"192.0.2.21:3306\"\n[aws]\neip_allocation_id = \"eipalloc-0123456789abcdef0\"\n[vrrp]\nvirtual_router_id = 51\n").expect("cluster").paths
    }

    /// Every form reads back as what was written, lands where its manager looks, and no
    /// form's file parses as another's.
    #[test]
    fn every_form_reads_back_and_only_as_itself() {
        let config = InterfaceConfig::example();
        let facts = UnitFacts {
            mac: "0e:11:22:33:44:55".into(),
            address: "192.0.2.140".into(),
            prefix: 25,
            table: 10001,
        };
        let paths = paths();
        let expected_paths = [
            "/etc/systemd/network/70-hakit-demo.network",
            "/etc/systemd/network/70-ens6.network.d/hakit-demo.conf",
            "/etc/NetworkManager/system-connections/hakit-demo.nmconnection",
            "/etc/network/interfaces.d/hakit-demo",
        ];
        for (persist, path) in EniPersist::ALL.into_iter().zip(expected_paths) {
            let file = render(persist, &paths, "demo", "n1", &config, None).expect("render");
            assert_eq!(file.path, PathBuf::from(path), "{persist:?}");
            assert!(
                file.contents
                    .starts_with(&format!("# {MARKER} (cluster demo, node n1)")),
                "{persist:?}: {}",
                file.contents
            );
            assert_eq!(
                persist.parse(&file.contents),
                Some(facts.clone()),
                "{persist:?}"
            );
            for other in EniPersist::ALL.into_iter().filter(|o| *o != persist) {
                assert_eq!(
                    other.parse(&file.contents),
                    None,
                    "{persist:?} as {other:?}"
                );
            }
            let mode = if persist == EniPersist::NetworkManager {
                0o600
            } else {
                0o644
            };
            assert_eq!(file.mode, mode, "{persist:?}");
        }
    }

    #[test]
    fn previews_say_their_values_are_examples() {
        for persist in EniPersist::ALL {
            let file = preview(persist, &paths(), "demo", "n1", None).expect("preview");
            assert!(file.contents.contains("EXAMPLE VALUES"), "{persist:?}");
        }
    }
}
