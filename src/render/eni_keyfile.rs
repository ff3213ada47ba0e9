//! The NetworkManager keyfile connection that keeps the dedicated ENI's configuration
//! where NetworkManager owns the interfaces (RHEL, Rocky, Alma; Debian with
//! network-manager): bound to the ENI's MAC, every route in the ENI's own table, and the
//! policy rule for its address. Writer (`nm-eni.nmconnection.j2`) and parser live here.

use super::eni_persist::{address_prefix, UnitFacts};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const TEMPLATE: &str = "nm-eni.nmconnection.j2";

pub fn path(dir: &Path, cluster: &str) -> PathBuf {
    dir.join(format!("hakit-{cluster}.nmconnection"))
}

/// The connection's name: `nmcli connection up hakit-<cluster>`.
pub fn id(cluster: &str) -> String {
    format!("hakit-{cluster}")
}

/// A UUID that stays the same for the cluster, so a re-run rewrites nothing.
pub fn uuid(cluster: &str) -> String {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&Sha256::digest(format!("hakit-eni:{cluster}").as_bytes())[..16]);
    // Shaped as a name-based (version 5, RFC 4122 variant) UUID.
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Read back a keyfile the template wrote; `None` for anything else.
pub fn parse(text: &str) -> Option<UnitFacts> {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_string()))
    };
    let mac = value("mac-address=")?.to_ascii_lowercase();
    let (address, prefix) = address_prefix(&value("address1=")?)?;
    let table = value("route-table=")?.parse().ok()?;
    Some(UnitFacts {
        mac,
        address,
        prefix,
        table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uuid_is_stable_per_cluster_and_shaped_as_one() {
        let a = uuid("demo");
        assert_eq!(a, uuid("demo"));
        assert_ne!(a, uuid("other"));
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "5", "{a}");
        assert!("89ab".contains(&a[19..20]), "{a}");
    }
}
