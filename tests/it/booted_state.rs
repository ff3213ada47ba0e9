//! What a booted host looks like from inside, as far as setup may change it and rollback
//! must give it back: packages, enabled units, accounts, addresses and routes, /etc.

use crate::booted::Node;
use std::collections::BTreeMap;

/// What rollback must give back, as seen from inside the node.
#[derive(Debug, PartialEq)]
pub struct HostState {
    pub packages: String,
    pub enabled: String,
    pub accounts: String,
    pub network: String,
    pub etc: BTreeMap<String, String>,
}

impl HostState {
    /// What rollback must give back: each part compared with `before`, and the files of
    /// /etc that differ named.
    pub fn assert_same_as(&self, before: &HostState, when: &str) {
        assert_eq!(self.packages, before.packages, "{when}: packages");
        assert_eq!(self.enabled, before.enabled, "{when}: enabled units");
        assert_eq!(self.accounts, before.accounts, "{when}: users and groups");
        assert_eq!(self.network, before.network, "{when}: addresses and routes");
        let changed: Vec<&String> = self
            .etc
            .iter()
            .filter(|(k, v)| before.etc.get(*k) != Some(*v))
            .map(|(k, _)| k)
            .chain(before.etc.keys().filter(|k| !self.etc.contains_key(*k)))
            .collect();
        assert!(changed.is_empty(), "{when}: /etc differs: {changed:?}");
    }
}

/// Files under /etc that the distro itself rewrites when packages and users come and go:
/// ld.so's cache (ldconfig trigger) and the shadow tools' backups of the account files.
const REWRITTEN_BY_THE_DISTRO: &[&str] =
    &["ld.so.cache", "passwd-", "group-", "shadow-", "gshadow-"];

pub fn host_state(node: &Node) -> HostState {
    let mut etc = BTreeMap::new();
    let root = node.root.join("etc");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("etc").flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(&root)
                .expect("under etc")
                .to_string_lossy()
                .into_owned();
            if REWRITTEN_BY_THE_DISTRO.contains(&rel.as_str()) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            let value = if meta.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&path).expect("link").display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else {
                use sha2::{Digest, Sha256};
                let bytes = std::fs::read(&path).expect("read");
                format!("{:x}", Sha256::digest(bytes))
            };
            etc.insert(rel, value);
        }
    }
    HostState {
        packages: node.ok(&["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n"]),
        enabled: node.ok(&[
            "systemctl",
            "list-unit-files",
            "--state=enabled",
            "--no-legend",
        ]),
        accounts: node.ok(&["sh", "-c", "cut -d: -f1 /etc/passwd /etc/group"]),
        network: node.ok(&[
            "sh",
            "-c",
            "ip -o -4 addr; ip rule; ip -4 route show table all | grep -v '^local\\|^broadcast'",
        ]),
        etc,
    }
}
