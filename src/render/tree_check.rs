//! Validating a rendering written under a directory (`hakit render --out DIR --validate`)
//! on a machine that is not the node: the validator must see the rendered tree (the
//! keepalived.conf it checks names scripts by their node paths, which exist only under
//! DIR here), and what fails only because this machine is not the node (an interface it
//! lacks) is told apart from what is wrong in the file. Pure.

use super::{path_under, FileKind, RenderedFile};
use std::path::{Path, PathBuf};

/// For a keepalived.conf: the copy to validate (next to the written file) with every
/// rendered file's node path pointing into `out` instead. `None` for other files, which
/// name no rendered file.
pub fn validation_copy(
    file: &RenderedFile,
    files: &[RenderedFile],
    out: &Path,
) -> Option<(PathBuf, String)> {
    if file.kind != FileKind::KeepalivedConf {
        return None;
    }
    let mut text = file.contents.clone();
    for other in files.iter().filter(|f| f.path != file.path) {
        let node_path = other.path.to_string_lossy().into_owned();
        let here = path_under(out, &other.path).to_string_lossy().into_owned();
        text = text.replace(&node_path, &here);
    }
    let written = path_under(out, &file.path);
    let name = written
        .file_name()
        .map(|n| format!(".{}.hakit-validate", n.to_string_lossy()))
        .unwrap_or_else(|| ".hakit-validate".into());
    Some((written.with_file_name(name), text))
}

/// The validator's findings that come from this machine rather than the file: an
/// interface keepalived cannot find here (it must exist on the node). Empty when any
/// other finding is there, which then is the file's.
pub fn machine_findings(output: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("Non-existent interface specified") {
            continue;
        }
        let Some(rest) = line.split("WARNING - interface ").nth(1) else {
            return vec![];
        };
        let Some(name) = rest.split_whitespace().next() else {
            return vec![];
        };
        if !rest.contains("doesn't exist") {
            return vec![];
        }
        let finding =
            format!("interface {name} does not exist on this machine (it must on the node)");
        if !found.contains(&finding) {
            found.push(finding);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, kind: FileKind, contents: &str) -> RenderedFile {
        RenderedFile {
            path: path.into(),
            kind,
            mode: 0o600,
            owner: "root".into(),
            group: "root".into(),
            validate: vec![],
            contents: contents.into(),
        }
    }

    #[test]
    fn the_copy_names_the_scripts_under_the_output_directory() {
        let conf = file(
            "/etc/keepalived/keepalived.conf",
            FileKind::KeepalivedConf,
            "script \"/usr/local/libexec/hakit/check_proxy_tcp.sh\"\nnotify \"/usr/local/libexec/hakit/notify.sh\"\n",
        );
        let files = vec![
            conf.clone(),
            file(
                "/usr/local/libexec/hakit/check_proxy_tcp.sh",
                FileKind::CheckScript,
                "",
            ),
            file(
                "/usr/local/libexec/hakit/notify.sh",
                FileKind::NotifyScript,
                "",
            ),
        ];
        let (path, text) = validation_copy(&conf, &files, Path::new("/tmp/out")).expect("a copy");
        assert_eq!(
            path,
            PathBuf::from("/tmp/out/etc/keepalived/.keepalived.conf.hakit-validate")
        );
        assert!(
            text.contains("\"/tmp/out/usr/local/libexec/hakit/check_proxy_tcp.sh\""),
            "{text}"
        );
        assert!(
            text.contains("\"/tmp/out/usr/local/libexec/hakit/notify.sh\""),
            "{text}"
        );
        assert_eq!(
            validation_copy(&files[1], &files, Path::new("/tmp/out")),
            None
        );
    }

    #[test]
    fn a_missing_interface_is_the_machine_s_and_anything_else_the_file_s() {
        let missing = "(/x.conf: Line 30) WARNING - interface enp0s8 for vrrp_instance hakit_demo doesn't exist\n(/x.conf: Line 38) WARNING - interface enp0s8 for ip address 192.0.2.100/24 doesn't exist\nNon-existent interface specified in configuration\n";
        assert_eq!(
            machine_findings(missing),
            vec!["interface enp0s8 does not exist on this machine (it must on the node)"]
        );
        let mixed = format!("{missing}Unknown keyword 'not_a_keepalived_keyword'\n");
        assert!(machine_findings(&mixed).is_empty());
    }
}
