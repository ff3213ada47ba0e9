//! The cluster file as setup installs it (`<config_dir>/cluster.toml`). It is the user's
//! text, byte for byte, except for one thing. A profile file named by a relative path is
//! resolved against the cluster file's directory. From the installed copy it would
//! resolve against `config_dir`, where the profile is not, and then `hakit status` and
//! `rollback --discover` would fail there. So that path is made absolute in the copy.

use std::path::Path;

/// `text` with its top-level `profile = "<reference>"` line replaced by the profile's
/// `absolute` path (a comment keeps what was written). `None` when that line cannot be
/// found or the result would not say exactly that (the caller asks for an absolute path
/// instead).
pub fn with_absolute_profile(text: &str, reference: &str, absolute: &Path) -> Option<String> {
    let absolute = absolute.to_str()?;
    if absolute.chars().any(char::is_control) {
        return None;
    }
    let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = Vec::new();
    let mut done = false;
    let mut in_table = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        in_table |= trimmed.starts_with('[');
        let is_profile = !done
            && !in_table
            && trimmed
                .strip_prefix("profile")
                .is_some_and(|rest| rest.trim_start().starts_with('='));
        if is_profile {
            let ending = if line.ends_with('\n') { "\n" } else { "" };
            out.push(format!(
                "profile = {} # {} next to the cluster file setup ran with{ending}",
                quoted(absolute),
                quoted(reference)
            ));
            done = true;
        } else {
            out.push(line.to_string());
        }
    }
    let installed = out.concat();
    let reads_back = super::parse(&installed).is_ok_and(|c| c.profile == absolute);
    (done && reads_back).then_some(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str = "# orders\nname = \"demo\"\nmode = \"l2-vip\"\nprofile = \"profiles/mine.toml\"   # ours\n\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n\n[[backend]]\naddress = \"192.0.2.21:3306\"\n\n[vip]\naddress = \"192.0.2.100/24\"\ninterface = \"eth0\"\n\n[vrrp]\nvirtual_router_id = 51\n";

    #[test]
    fn only_the_profile_line_changes_and_it_reads_back_absolute() {
        let abs = Path::new("/srv/ha/profiles/mine.toml");
        let installed =
            with_absolute_profile(CLUSTER, "profiles/mine.toml", abs).expect("rewritten");
        let cluster = crate::config::parse(&installed).expect("parses");
        assert_eq!(cluster.profile, "/srv/ha/profiles/mine.toml");
        let (before, after): (Vec<&str>, Vec<&str>) =
            (CLUSTER.lines().collect(), installed.lines().collect());
        assert_eq!(before.len(), after.len());
        let changed: Vec<usize> = (0..before.len())
            .filter(|&i| before[i] != after[i])
            .collect();
        assert_eq!(changed, [3]);
        assert_eq!(
            after[3],
            "profile = \"/srv/ha/profiles/mine.toml\" # \"profiles/mine.toml\" next to the cluster file setup ran with"
        );
    }

    #[test]
    fn quotes_in_the_path_are_escaped_and_a_file_without_the_key_is_refused() {
        let odd = Path::new("/srv/a \"b\" \\c/mine.toml");
        let installed =
            with_absolute_profile(CLUSTER, "profiles/mine.toml", odd).expect("rewritten");
        assert_eq!(
            crate::config::parse(&installed).expect("parses").profile,
            "/srv/a \"b\" \\c/mine.toml"
        );
        // `profile` only inside a table is not the top-level key.
        let nested = CLUSTER.replace("profile = \"profiles/mine.toml\"   # ours\n", "")
            + "profile = \"x\"\n";
        assert_eq!(with_absolute_profile(&nested, "x", odd), None);
    }
}
