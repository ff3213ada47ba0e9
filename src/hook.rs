//! The failover hook's binary: keepalived runs `notify.sh` (and `reconcile.sh`), which
//! `exec` hakit. If that binary is not where the script says, every transition fails with
//! exit 127 and, in aws-eip mode, the Elastic IP never moves. So: by default the hook runs
//! the binary that ran setup, setup refuses a hook that cannot run, and `status` says so
//! when the binary went away later (a package removed, a path changed).

use crate::host::Host;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// The binary running now, as the hook should name it: its canonical path.
pub fn running_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("cannot tell where this hakit binary is (for the failover hook); set paths.hakit_bin in the cluster file")?;
    if !crate::config::is_shell_plain(&exe) {
        anyhow::bail!(
            "this hakit binary is at {}, a path the failover hook's shell script would split or expand; install it at a plain path (like /usr/bin/hakit) or set paths.hakit_bin in the cluster file",
            exe.display()
        );
    }
    Ok(exe)
}

/// Why the hook's binary cannot run, with the fix.
pub fn problem(host: &dyn Host, bin: &Path) -> Option<String> {
    let why = match host.run_str(&[&bin.to_string_lossy(), "--version"]) {
        Err(e) => format!("{e:#}"),
        Ok(out) if out.success && out.output.starts_with("hakit ") => return None,
        Ok(out) => format!(
            "`{} --version` exited {:?} without naming hakit: {}",
            bin.display(),
            out.code,
            out.output.trim()
        ),
    };
    Some(format!(
        "the failover hook runs {} and it cannot run ({why}): install hakit there, or set paths.hakit_bin in the cluster file to where it is and run setup again",
        bin.display()
    ))
}

/// The binary a rendered `notify.sh` runs: the word after `exec` (see notify.sh.j2).
pub fn binary_in(notify_script: &str) -> Option<PathBuf> {
    notify_script.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == "exec").then_some(())?;
        let bin = words.next()?;
        (words.next()? == "notify").then(|| PathBuf::from(bin))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FakeHost;

    #[test]
    fn the_binary_is_read_back_from_the_rendered_notify_script() {
        for mode in ["aws-eip", "l2-vip"] {
            let table = if mode == "aws-eip" {
                "[aws]\neip_allocation_id = \"eipalloc-0123456789abcdef0\"\n"
            } else {
                "[vip]\naddress = \"192.0.2.100/24\"\ninterface = \"eth0\"\n"
            };
            let text = format!("name = \"demo\"\nmode = \"{mode}\"\nprofile = \"haproxy\"\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n[[backend]]\naddress = \"192.0.2.21:3306\"\n{table}[vrrp]\nvirtual_router_id = 51\n[paths]\nhakit_bin = \"/opt/hakit-1.2/bin/hakit\"\n");
            let cluster = crate::config::parse(&text).expect("cluster");
            let profile = crate::profile::load("haproxy", Path::new(".")).expect("profile");
            let target =
                crate::role::select(&cluster, crate::role::Role::Master, None).expect("role");
            let secrets = crate::secrets::Secrets::generate().expect("secrets");
            let files = crate::render::render(&crate::render::RenderInput {
                cluster: &cluster,
                target: &target,
                profile: &profile,
                secrets: &secrets,
                templates: None,
            })
            .expect("render");
            let notify = files
                .iter()
                .find(|f| f.path.ends_with("notify.sh"))
                .expect("notify.sh");
            assert_eq!(
                binary_in(&notify.contents),
                Some(PathBuf::from("/opt/hakit-1.2/bin/hakit")),
                "{mode}"
            );
        }
    }

    #[test]
    fn a_script_without_the_exec_line_names_no_binary() {
        assert_eq!(binary_in("#!/bin/sh\necho hi\nexec true\n"), None);
    }

    #[test]
    fn a_binary_that_does_not_run_is_a_problem_naming_it_and_the_key() {
        let host = FakeHost::new();
        host.fail.borrow_mut().insert("validate".into());
        let why = problem(&host, Path::new("/usr/bin/hakit")).expect("a problem");
        assert!(
            why.contains("/usr/bin/hakit") && why.contains("paths.hakit_bin"),
            "{why}"
        );
    }

    #[test]
    fn the_real_binary_of_a_missing_path_is_a_problem() {
        let why =
            problem(&crate::host::RealHost, Path::new("/nonexistent/hakit")).expect("a problem");
        assert!(why.contains("/nonexistent/hakit"), "{why}");
        // /bin/true runs but is not hakit.
        assert!(problem(&crate::host::RealHost, Path::new("/bin/true")).is_some());
    }
}
