//! A systemd-networkd drop-in for the `.network` file that manages the interface
//! keepalived adds its address to (the l2-vip VIP, or aws-eip's marker on `lo`): it tells
//! networkd to keep addresses it did not add when it configures the link again. Rendered
//! from `networkd-keep.conf.j2` once setup knows which `.network` file manages the link.

use super::{FileKind, RenderedFile, MARKER};
use std::path::{Path, PathBuf};

pub const TEMPLATE: &str = "networkd-keep.conf.j2";

/// The drop-in for `network_file` (the basename networkd reports, e.g. `10-host0.network`):
/// drop-in directories are looked up by that name in every networkd directory, so this one
/// goes in `network_dir` wherever the file itself lives.
pub fn path(network_dir: &Path, network_file: &str, cluster: &str) -> PathBuf {
    network_dir
        .join(format!("{network_file}.d"))
        .join(format!("hakit-{cluster}.conf"))
}

pub struct KeepInput<'a> {
    pub network_dir: &'a Path,
    pub network_file: &'a str,
    pub cluster: &'a str,
    pub node: &'a str,
    pub interface: &'a str,
    /// What keepalived adds there, for the comment ("the virtual IP 192.0.2.100/24").
    pub what: &'a str,
    pub templates: Option<&'a Path>,
}

pub fn render(input: &KeepInput<'_>) -> anyhow::Result<RenderedFile> {
    let ctx = minijinja::context! {
        header => format!(
            "{MARKER} (cluster {}, node {}). Removed by `hakit rollback`.",
            input.cluster, input.node
        ),
        what => input.what,
        interface => input.interface,
    };
    super::network_file(
        path(input.network_dir, input.network_file, input.cluster),
        FileKind::NetworkDropIn,
        TEMPLATE,
        ctx,
        input.templates,
    )
}

/// The `.network` file `networkctl status LINK` says manages the link ("Network File:
/// /etc/systemd/network/10-host0.network"); `None` when networkd leaves it alone ("n/a").
pub fn network_file_in(status: &str) -> Option<String> {
    status.lines().find_map(|line| {
        let value = line.trim().strip_prefix("Network File:")?.trim();
        let name = Path::new(value).file_name()?.to_str()?;
        (value.starts_with('/') && name.ends_with(".network")).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_managing_file_is_read_from_networkctl_status() {
        let managed = "● 2: host0\n                     Link File: n/a\n                  Network File: /etc/systemd/network/10-host0.network\n                         State: routable (configured)\n";
        assert_eq!(
            network_file_in(managed).as_deref(),
            Some("10-host0.network")
        );
        let unmanaged = "● 1: lo\n                     Link File: n/a\n                  Network File: n/a\n                         State: routable (unmanaged)\n";
        assert_eq!(network_file_in(unmanaged), None);
        assert_eq!(network_file_in(""), None);
    }

    #[test]
    fn the_drop_in_keeps_static_foreign_addresses_and_names_its_owner() {
        let file = render(&KeepInput {
            network_dir: Path::new("/etc/systemd/network"),
            network_file: "10-host0.network",
            cluster: "demo",
            node: "n1",
            interface: "host0",
            what: "the virtual IP 192.0.2.100/24",
            templates: None,
        })
        .expect("render");
        assert_eq!(
            file.path,
            Path::new("/etc/systemd/network/10-host0.network.d/hakit-demo.conf")
        );
        assert!(file
            .contents
            .starts_with("# Managed by hakit (cluster demo, node n1)"));
        assert!(file
            .contents
            .contains("\n[Network]\nKeepConfiguration=static\n"));
        assert!(file.contents.contains("192.0.2.100/24 on host0"));
    }
}
