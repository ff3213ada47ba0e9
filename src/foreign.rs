//! Which of a node's rendered files would replace a file hakit did not write: one that
//! exists with other contents, is not in this node's journal, and is not a package's
//! config file exactly as the package shipped it (that default is replaced, backed up,
//! without asking). Replacing any other needs the operator's consent.

use crate::host::Host;
use crate::journal::NodeJournal;
use crate::render::RenderedFile;
use std::path::{Path, PathBuf};

/// The files among `files` that someone made or edited, in order.
pub fn files(
    host: &dyn Host,
    files: &[RenderedFile],
    state_dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let journal = NodeJournal::load_in(host, state_dir)?;
    let mut foreign = Vec::new();
    for file in files {
        let ours = journal
            .as_ref()
            .is_some_and(|j| j.file_entry(&file.path).is_some());
        if ours {
            continue;
        }
        let Some(bytes) = host.read(&file.path)? else {
            continue;
        };
        if bytes != file.contents.as_bytes() && host.package_default(&file.path)? != Some(true) {
            foreign.push(file.path.clone());
        }
    }
    Ok(foreign)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{FakeHost, Ownership};
    use crate::render::FileKind;

    fn rendered(path: &str) -> RenderedFile {
        RenderedFile {
            path: path.into(),
            kind: FileKind::ProxyConfig,
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
            validate: vec![],
            contents: "hakit's\n".into(),
        }
    }

    #[test]
    fn an_edited_file_is_foreign_a_pristine_package_default_or_identical_one_is_not() {
        let host = FakeHost::new();
        host.create_dir(Path::new("/etc"), 0o755).expect("dir");
        let write = |path: &str, text: &str| {
            host.write_atomic(Path::new(path), text.as_bytes(), &Ownership::root(0o644))
                .expect("write")
        };
        write("/etc/default.cfg", "as shipped\n");
        write("/etc/edited.cfg", "edited by hand\n");
        write("/etc/same.cfg", "hakit's\n");
        write("/etc/hand-made.cfg", "made by hand\n");
        let mut defaults = host.package_defaults.borrow_mut();
        defaults.insert("/etc/default.cfg".into(), b"as shipped\n".to_vec());
        defaults.insert("/etc/edited.cfg".into(), b"as shipped\n".to_vec());
        drop(defaults);
        let all = [
            "/etc/default.cfg",
            "/etc/edited.cfg",
            "/etc/same.cfg",
            "/etc/hand-made.cfg",
            "/etc/absent.cfg",
        ]
        .map(rendered);
        let found = files(&host, &all, Path::new("/var/lib/hakit")).expect("look");
        assert_eq!(
            found,
            vec![
                PathBuf::from("/etc/edited.cfg"),
                PathBuf::from("/etc/hand-made.cfg")
            ]
        );
    }
}
