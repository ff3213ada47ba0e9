//! The template set: the embedded templates/ directory, optionally overridden file by file
//! from a directory of the user's. Rendering is strict: an undefined variable is an error.

use anyhow::Context;
use minijinja::{Environment, UndefinedBehavior};
use std::path::Path;

/// Every file in templates/; `every_template_file_is_embedded` fails when one is missing.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "keepalived.conf.j2",
        include_str!("../../templates/keepalived.conf.j2"),
    ),
    ("notify.sh.j2", include_str!("../../templates/notify.sh.j2")),
    (
        "reconcile.sh.j2",
        include_str!("../../templates/reconcile.sh.j2"),
    ),
    (
        "check_tcp.sh.j2",
        include_str!("../../templates/check_tcp.sh.j2"),
    ),
    (
        "check_galera.sh.j2",
        include_str!("../../templates/check_galera.sh.j2"),
    ),
    (
        "haproxy.cfg.j2",
        include_str!("../../templates/haproxy.cfg.j2"),
    ),
    (
        "proxysql.cnf.j2",
        include_str!("../../templates/proxysql.cnf.j2"),
    ),
    (
        "networkd-eni.network.j2",
        include_str!("../../templates/networkd-eni.network.j2"),
    ),
    (
        "check_proxysql_login.sh.j2",
        include_str!("../../templates/check_proxysql_login.sh.j2"),
    ),
    (
        "check_http.sh.j2",
        include_str!("../../templates/check_http.sh.j2"),
    ),
    (
        "networkd-keep.conf.j2",
        include_str!("../../templates/networkd-keep.conf.j2"),
    ),
    (
        "nm-eni.nmconnection.j2",
        include_str!("../../templates/nm-eni.nmconnection.j2"),
    ),
    (
        "ifupdown-eni.j2",
        include_str!("../../templates/ifupdown-eni.j2"),
    ),
    (
        "networkd-eni-ec2.conf.j2",
        include_str!("../../templates/networkd-eni-ec2.conf.j2"),
    ),
    (
        "tmpfiles.conf.j2",
        include_str!("../../templates/tmpfiles.conf.j2"),
    ),
];

/// Build the template environment; files in `override_dir` named like an embedded
/// template (or new ones a custom profile refers to) replace or extend the set.
pub fn environment(override_dir: Option<&Path>) -> anyhow::Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    for (name, source) in EMBEDDED {
        env.add_template(name, source)
            .with_context(|| format!("parsing the embedded template {name}"))?;
    }
    if let Some(dir) = override_dir {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("reading the template directory {}", dir.display()))?;
        for entry in entries {
            let entry = entry
                .with_context(|| format!("reading the template directory {}", dir.display()))?;
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .filter(|n| n.ends_with(".j2"))
            else {
                continue;
            };
            let source = std::fs::read_to_string(&path)
                .with_context(|| format!("reading template {}", path.display()))?;
            env.add_template_owned(name.to_string(), source)
                .with_context(|| format!("parsing template {}", path.display()))?;
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::EMBEDDED;

    /// `include_str!` already fails the build for a listed file that is gone; this is the
    /// other direction: a template added to templates/ but not to the list would be absent
    /// from the binary, and only a node using it would notice.
    #[test]
    fn every_template_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for entry in std::fs::read_dir(&dir).expect("reading templates/") {
            let path = entry.expect("reading templates/").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 name");
            let on_disk = std::fs::read_to_string(&path).expect("reading a template");
            match EMBEDDED.iter().find(|(n, _)| *n == name) {
                Some((_, embedded)) => assert!(
                    *embedded == on_disk,
                    "EMBEDDED in src/render/templates.rs names {name} but includes another file"
                ),
                None => panic!(
                    "templates/{name} is not embedded: add \
                     (\"{name}\", include_str!(\"../../templates/{name}\")) \
                     to EMBEDDED in src/render/templates.rs"
                ),
            }
        }
    }
}
