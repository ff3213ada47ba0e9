//! The Debian package as `packaging/deb.sh` builds it (from this test build's binary):
//! lintian has nothing to say, every man page hakit.1 refers to is in it, and the
//! maintainer scripts are the ones beside deb.sh. `booted_package` installs it.

use crate::common::{must_run_privileged, require_tool};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The package, built once per test run into target/tmp/package.
pub fn deb() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("package");
        let _ = std::fs::remove_dir_all(&out_dir);
        let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/deb.sh"))
            .arg("--binary")
            .arg(env!("CARGO_BIN_EXE_hakit"))
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("packaging/deb.sh");
        assert!(
            out.status.success(),
            "packaging/deb.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(path.starts_with(&out_dir) && path.is_file(), "{path:?}");
        path
    })
}

fn ready(what: &str) -> bool {
    must_run_privileged(what)
        && require_tool("dpkg-deb")
        && require_tool("dpkg-shlibdeps")
        && require_tool("lintian")
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("dpkg-deb");
    assert!(out.status.success(), "dpkg-deb {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn lintian_has_nothing_to_say_about_the_package() {
    if !ready("lintian on the Debian package") {
        return;
    }
    let out = Command::new("lintian")
        .args(["--allow-root", "--fail-on", "error,warning"])
        .arg(deb())
        .output()
        .expect("lintian");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "lintian:\n{said}"
    );
}

#[test]
fn every_man_page_the_package_refers_to_is_in_it() {
    if !ready("the Debian package's man pages") {
        return;
    }
    let listing = dpkg_deb(&["-c"], deb());
    let pages: Vec<String> = listing
        .lines()
        .filter_map(|l| l.split("./usr/share/man/man1/").nth(1))
        .filter_map(|name| name.strip_suffix(".1.gz"))
        .map(str::to_string)
        .collect();
    assert!(pages.contains(&"hakit".to_string()), "{listing}");
    // The references, as each page's SUBCOMMANDS section prints them: `hakit\-setup(1)`.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("package-man");
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_hakit"))
        .args(["man", "--dir"])
        .arg(&dir)
        .output()
        .expect("hakit man");
    assert!(out.status.success());
    let mut referenced = 0;
    for entry in std::fs::read_dir(&dir).expect("pages").flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("page");
        for line in text.lines() {
            let Some(name) = line.strip_suffix("(1)").filter(|n| n.starts_with("hakit")) else {
                continue;
            };
            let name = name.replace("\\-", "-");
            referenced += 1;
            assert!(
                pages.contains(&name),
                "{} refers to {name}(1), which the package does not ship ({pages:?})",
                entry.path().display()
            );
        }
    }
    assert!(
        referenced >= 11,
        "only {referenced} references found: the parse broke"
    );
}

#[test]
fn the_package_says_what_it_is_in_one_short_line_and_depends_on_no_daemon() {
    if !ready("the Debian package's control file") {
        return;
    }
    let control = dpkg_deb(&["-f"], deb());
    let synopsis = control
        .lines()
        .find_map(|l| l.strip_prefix("Description: "))
        .expect("Description");
    assert!(synopsis.len() < 80, "{synopsis:?}");
    let depends = control
        .lines()
        .find_map(|l| l.strip_prefix("Depends: "))
        .expect("Depends");
    // keepalived and the proxies are what setup installs and journals, and what rollback
    // removes: the package must not pull them in (nor be removed with them).
    for daemon in ["keepalived", "haproxy", "proxysql", "mariadb", "util-linux"] {
        assert!(!depends.contains(daemon), "Depends: {depends}");
    }
    for field in ["Recommends:", "Suggests:", "Pre-Depends:"] {
        assert!(!control.contains(field), "{control}");
    }
}
