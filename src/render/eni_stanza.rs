//! The ifupdown stanza that keeps the dedicated ENI's configuration on ifupdown hosts: a
//! file in the directory `/etc/network/interfaces` sources, `auto` (configured at boot)
//! and `allow-hotplug` (configured when udev sees the ENI attached), with idempotent `up`
//! commands so `ifup` also works on an interface setup already configured. Writer
//! (`ifupdown-eni.j2`) and parser live here.

use super::eni_persist::{address_prefix, mac_in_comment, UnitFacts};
use std::path::{Path, PathBuf};

pub const TEMPLATE: &str = "ifupdown-eni.j2";

/// Letters, digits, `-` and `_` only: `source-directory` skips any other name.
pub fn path(dir: &Path, cluster: &str) -> PathBuf {
    dir.join(format!("hakit-{cluster}"))
}

/// Read back a stanza the template wrote; `None` for anything else.
pub fn parse(text: &str) -> Option<UnitFacts> {
    let up = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(str::to_string))
    };
    let mac = mac_in_comment(text)?;
    let address = up("up ip addr replace ")?;
    let (address, prefix) = address_prefix(address.split_whitespace().next()?)?;
    let rule = up("up ip rule add ")?;
    let table = rule
        .split_whitespace()
        .skip_while(|w| *w != "lookup")
        .nth(1)?
        .parse()
        .ok()?;
    Some(UnitFacts {
        mac,
        address,
        prefix,
        table,
    })
}

/// Whether ifupdown's main file (`/etc/network/interfaces`, the directory's parent's
/// `interfaces`) reads the stanza directory `dir`: a `source DIR/*` or
/// `source-directory DIR` line.
pub fn is_sourced(interfaces: &str, dir: &Path) -> bool {
    let dir = dir.display().to_string();
    interfaces.lines().any(|line| {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("source"), Some(glob)) => glob.trim_end_matches('*').trim_end_matches('/') == dir,
            (Some("source-directory"), Some(path)) => path.trim_end_matches('/') == dir,
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stanza_directory_counts_only_when_sourced() {
        let dir = Path::new("/etc/network/interfaces.d");
        assert!(is_sourced(
            "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n",
            dir
        ));
        assert!(is_sourced(
            "source-directory /etc/network/interfaces.d\n",
            dir
        ));
        assert!(!is_sourced("# source /etc/network/interfaces.d/*\n", dir));
        assert!(!is_sourced("auto eth0\niface eth0 inet dhcp\n", dir));
        assert!(!is_sourced("source /etc/network/other.d/*\n", dir));
    }
}
