//! `[proxysql]` checked: the writer and reader hostgroups (and, for Galera, the backup
//! writer and offline ones), how ProxySQL tells a writer from a reader, the optional
//! read/write split, and the users applications log in as. Their passwords live in the
//! secrets file (`proxysql_users`), never here.

use super::file::{ClusterFile, ProxySqlFile};
use super::ConfigIssue;
use serde::Serialize;

/// The monitor user's name on the backends (its password is `proxy_monitor_password`).
pub const MONITOR_USER: &str = "hakit_monitor";
/// ProxySQL's admin user (its password is `proxy_admin_password`).
pub const ADMIN_USER: &str = "hakit";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxySql {
    pub writer_hostgroup: u32,
    pub reader_hostgroup: u32,
    pub backup_writer_hostgroup: u32,
    pub offline_hostgroup: u32,
    pub topology: Topology,
    pub read_write_split: bool,
    pub users: Vec<ProxySqlUser>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Asynchronous replication: `mysql_replication_hostgroups`, `read_only` decides.
    Async,
    /// Galera: `mysql_galera_hostgroups`, wsrep state decides.
    Galera,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxySqlUser {
    pub name: String,
    pub default_hostgroup: u32,
    pub max_connections: u32,
}

impl Default for ProxySql {
    fn default() -> Self {
        ProxySql {
            writer_hostgroup: 10,
            reader_hostgroup: 20,
            backup_writer_hostgroup: 30,
            offline_hostgroup: 40,
            topology: Topology::Async,
            read_write_split: false,
            users: vec![],
        }
    }
}

/// Check `[proxysql]`; every problem is pushed to `issues`, naming its key.
pub fn proxysql(file: &ClusterFile, issues: &mut Vec<ConfigIssue>) -> Option<ProxySql> {
    let Some(p) = &file.proxysql else {
        return Some(ProxySql::default());
    };
    let defaults = ProxySql::default();
    let before = issues.len();
    let hostgroup = |key: &str, value: Option<i64>, default: u32, issues: &mut Vec<_>| {
        hostgroup_id(&format!("proxysql.{key}"), value, default, issues)
    };
    let writer = hostgroup(
        "writer_hostgroup",
        p.writer_hostgroup,
        defaults.writer_hostgroup,
        issues,
    );
    let reader = hostgroup(
        "reader_hostgroup",
        p.reader_hostgroup,
        defaults.reader_hostgroup,
        issues,
    );
    let backup = hostgroup(
        "backup_writer_hostgroup",
        p.backup_writer_hostgroup,
        defaults.backup_writer_hostgroup,
        issues,
    );
    let offline = hostgroup(
        "offline_hostgroup",
        p.offline_hostgroup,
        defaults.offline_hostgroup,
        issues,
    );
    let topology = match p.topology.as_deref() {
        None | Some("async") => Topology::Async,
        Some("galera") => Topology::Galera,
        Some(other) => {
            issues.push(ConfigIssue::new(
                "proxysql.topology",
                format!("unknown topology {other:?}"),
                "use \"async\" (replication: read_only decides the writer) or \"galera\"",
            ));
            Topology::Async
        }
    };
    let mut named = vec![
        ("proxysql.writer_hostgroup", writer),
        ("proxysql.reader_hostgroup", reader),
    ];
    if topology == Topology::Galera {
        named.push(("proxysql.backup_writer_hostgroup", backup));
        named.push(("proxysql.offline_hostgroup", offline));
    }
    for (i, (a_key, a)) in named.iter().enumerate() {
        if let Some((b_key, _)) = named[i + 1..].iter().find(|(_, b)| b == a) {
            issues.push(ConfigIssue::new(
                *b_key,
                format!("hostgroup {a} is also {a_key}"),
                "give each hostgroup its own id",
            ));
        }
    }
    let users = users(p, writer, reader, issues);
    (issues.len() == before).then(|| ProxySql {
        writer_hostgroup: writer,
        reader_hostgroup: reader,
        backup_writer_hostgroup: backup,
        offline_hostgroup: offline,
        topology,
        read_write_split: p.read_write_split.unwrap_or(false),
        users,
    })
}

fn hostgroup_id(key: &str, value: Option<i64>, default: u32, issues: &mut Vec<ConfigIssue>) -> u32 {
    match value {
        None => default,
        Some(v) if (0..=i64::from(i32::MAX)).contains(&v) => v as u32,
        Some(v) => {
            issues.push(ConfigIssue::new(
                key,
                format!("{v} is not a hostgroup id"),
                "use a whole number from 0 to 2147483647",
            ));
            default
        }
    }
}

fn users(
    p: &ProxySqlFile,
    writer: u32,
    reader: u32,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<ProxySqlUser> {
    let mut out: Vec<ProxySqlUser> = Vec::new();
    for (i, user) in p.users.iter().enumerate() {
        let key = |field: &str| format!("proxysql.user[{i}].{field}");
        let Some(name) = user.name.as_deref() else {
            issues.push(ConfigIssue::new(
                key("name"),
                "missing",
                "add `name = \"app\"`: the user applications log in as",
            ));
            continue;
        };
        if !is_user_name(name) {
            issues.push(ConfigIssue::new(
                key("name"),
                format!("{name:?} is not a user name hakit accepts"),
                "use 1-32 letters, digits and '_'",
            ));
            continue;
        }
        if [MONITOR_USER, ADMIN_USER].contains(&name) {
            issues.push(ConfigIssue::new(
                key("name"),
                format!("{name:?} is hakit's own ProxySQL user"),
                "choose another name for the application's user",
            ));
            continue;
        }
        if out.iter().any(|u| u.name == name) {
            issues.push(ConfigIssue::new(
                key("name"),
                format!("user {name:?} is listed twice"),
                "list each user once",
            ));
            continue;
        }
        let default_hostgroup = match user.default_hostgroup.as_deref() {
            None | Some("writer") => writer,
            Some("reader") => reader,
            Some(other) => {
                issues.push(ConfigIssue::new(
                    key("default_hostgroup"),
                    format!("unknown hostgroup {other:?}"),
                    "use \"writer\" or \"reader\"",
                ));
                writer
            }
        };
        let max_connections = match user.max_connections {
            None => 1000,
            Some(n) if (1..=100_000).contains(&n) => n as u32,
            Some(n) => {
                issues.push(ConfigIssue::new(
                    key("max_connections"),
                    format!("{n} is out of range"),
                    "use a number from 1 to 100000",
                ));
                1000
            }
        };
        out.push(ProxySqlUser {
            name: name.to_string(),
            default_hostgroup,
            max_connections,
        });
    }
    out
}

/// What ProxySQL and the backends take without quoting trouble: `[A-Za-z0-9_]{1,32}`.
pub fn is_user_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(table: &str) -> Result<ProxySql, Vec<ConfigIssue>> {
        let text = format!("profile = \"proxysql\"\n{table}");
        let file: ClusterFile = toml::from_str(&text).expect("toml");
        let mut issues = Vec::new();
        let out = proxysql(&file, &mut issues);
        match out {
            Some(p) if issues.is_empty() => Ok(p),
            _ => Err(issues),
        }
    }

    fn fields(issues: Vec<ConfigIssue>) -> Vec<String> {
        issues.into_iter().map(|i| i.field).collect()
    }

    #[test]
    fn users_and_hostgroups_are_read_with_defaults() {
        let p = check("[proxysql]\nreader_hostgroup = 2\n[[proxysql.user]]\nname = \"app\"\n[[proxysql.user]]\nname = \"report\"\ndefault_hostgroup = \"reader\"\nmax_connections = 50\n").expect("valid");
        assert_eq!((p.writer_hostgroup, p.reader_hostgroup), (10, 2));
        assert_eq!(p.topology, Topology::Async);
        assert_eq!(
            p.users,
            vec![
                ProxySqlUser {
                    name: "app".into(),
                    default_hostgroup: 10,
                    max_connections: 1000
                },
                ProxySqlUser {
                    name: "report".into(),
                    default_hostgroup: 2,
                    max_connections: 50
                },
            ]
        );
        assert_eq!(check("").expect("no table"), ProxySql::default());
    }

    #[test]
    fn bad_users_and_hostgroups_are_named_by_key() {
        let issues = check("[proxysql]\nwriter_hostgroup = -1\nreader_hostgroup = 10\ntopology = \"ndb\"\n[[proxysql.user]]\nname = \"a b\"\n[[proxysql.user]]\nname = \"hakit_monitor\"\n[[proxysql.user]]\nname = \"app\"\ndefault_hostgroup = \"primary\"\nmax_connections = 0\n[[proxysql.user]]\nname = \"app\"\n").expect_err("invalid");
        assert_eq!(
            fields(issues),
            vec![
                "proxysql.writer_hostgroup",
                "proxysql.topology",
                "proxysql.reader_hostgroup",
                "proxysql.user[0].name",
                "proxysql.user[1].name",
                "proxysql.user[2].default_hostgroup",
                "proxysql.user[2].max_connections",
                "proxysql.user[3].name",
            ]
        );
    }

    #[test]
    fn galera_hostgroups_must_differ_too() {
        let issues = check("[proxysql]\ntopology = \"galera\"\noffline_hostgroup = 10\n")
            .expect_err("clash");
        assert_eq!(fields(issues), vec!["proxysql.offline_hostgroup"]);
    }
}
