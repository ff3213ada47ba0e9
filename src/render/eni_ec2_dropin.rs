//! Where amazon-ec2-net-utils configures every ENI (Amazon Linux 2023), it generates
//! `/run/systemd/network/70-<interface>.network` and regenerates it on ENI changes; a unit
//! of hakit's own would lose to it by name. Its README says to customise through
//! networkd's own configuration in /etc: so hakit writes a drop-in for that unit, which
//! networkd merges whichever directory the unit is in. Writer
//! (`networkd-eni-ec2.conf.j2`) and parser live here.

use super::eni_persist::{address_prefix, mac_in_comment, UnitFacts};
use std::path::{Path, PathBuf};

pub const TEMPLATE: &str = "networkd-eni-ec2.conf.j2";

pub fn path(network_dir: &Path, interface: &str, cluster: &str) -> PathBuf {
    network_dir
        .join(format!("70-{interface}.network.d"))
        .join(format!("hakit-{cluster}.conf"))
}

/// Read back a drop-in the template wrote; `None` for anything else.
pub fn parse(text: &str) -> Option<UnitFacts> {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_string()))
    };
    // hakit's own unit names the MAC in its [Match] section and the address in
    // [Network]; this drop-in leaves both to ec2-net-utils (its address comes by DHCP).
    if value("MACAddress=").is_some() || value("Address=").is_some() {
        return None;
    }
    let (_, prefix) = address_prefix(&value("Destination=")?)?;
    Some(UnitFacts {
        mac: mac_in_comment(text)?,
        address: value("From=")?,
        prefix,
        table: value("Table=")?.parse().ok()?,
    })
}
