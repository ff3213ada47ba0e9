//! What hakit renders into proxysql.cnf, as statements for ProxySQL's admin interface:
//! ProxySQL reads the file only when its database does not exist yet, so a later change
//! reaches a running ProxySQL through these (each table replaced, loaded to runtime and
//! saved to disk) instead of a restart. And the reverse: a snapshot of what ProxySQL has
//! now, as statements that put it back (what rollback runs). Both hold passwords: never
//! printed, kept only in root-only files.

use crate::config::proxysql::{Topology, ADMIN_USER, MONITOR_USER};
use crate::config::Cluster;
use crate::host::mysql_wire::QueryResult;
use crate::profile::Profile;
use crate::secrets::Secrets;
use serde::{Deserialize, Serialize};

/// Reaching ProxySQL's admin interface, and what to run there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminBatch {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub statements: Vec<String>,
}

/// The tables hakit configures, in the order they are loaded, with the admin command
/// that loads and saves each group.
const GROUPS: [(&[&str], &str); 3] = [
    (
        &[
            "mysql_servers",
            "mysql_replication_hostgroups",
            "mysql_galera_hostgroups",
        ],
        "MYSQL SERVERS",
    ),
    (&["mysql_users"], "MYSQL USERS"),
    (&["mysql_query_rules"], "MYSQL QUERY RULES"),
];

/// The global variables hakit sets (the monitor's login).
const VARIABLES: [&str; 2] = ["mysql-monitor_username", "mysql-monitor_password"];

/// For a profile whose proxy is ProxySQL: the cluster's configuration as admin
/// statements.
pub fn desired(cluster: &Cluster, profile: &Profile, secrets: &Secrets) -> Option<AdminBatch> {
    if profile.process != "proxysql" {
        return None;
    }
    let port = cluster.proxy.admin_port.or(profile.admin_port)?;
    let p = &cluster.proxysql;
    let w = p.writer_hostgroup.to_string();
    let mut rows: Vec<(&str, String)> = Vec::new();
    for b in &cluster.backends {
        rows.push(insert(
            "mysql_servers",
            &[
                ("hostgroup_id", w.clone()),
                ("hostname", quote(&b.host)),
                ("port", b.port.to_string()),
                ("weight", b.weight.to_string()),
                ("max_connections", "1000".into()),
            ],
        ));
    }
    rows.push(match p.topology {
        Topology::Async => insert(
            "mysql_replication_hostgroups",
            &[
                ("writer_hostgroup", w.clone()),
                ("reader_hostgroup", p.reader_hostgroup.to_string()),
                ("check_type", quote("read_only")),
                ("comment", quote("hakit")),
            ],
        ),
        Topology::Galera => insert(
            "mysql_galera_hostgroups",
            &[
                ("writer_hostgroup", w.clone()),
                (
                    "backup_writer_hostgroup",
                    p.backup_writer_hostgroup.to_string(),
                ),
                ("reader_hostgroup", p.reader_hostgroup.to_string()),
                ("offline_hostgroup", p.offline_hostgroup.to_string()),
                ("active", "1".into()),
                ("max_writers", "1".into()),
                ("writer_is_also_reader", "1".into()),
                ("max_transactions_behind", "100".into()),
                ("comment", quote("hakit")),
            ],
        ),
    });
    // The monitor user logs in through the client port too (keepalived's check runs no
    // query; on the backends it may only monitor).
    let monitor = (
        MONITOR_USER,
        secrets.proxy_monitor_password.expose().to_string(),
        p.writer_hostgroup,
        10,
    );
    let users = p.users.iter().map(|u| {
        let password = secrets
            .proxysql_users
            .get(&u.name)
            .map(|s| s.expose().to_string())
            .unwrap_or_default();
        (
            u.name.as_str(),
            password,
            u.default_hostgroup,
            u.max_connections,
        )
    });
    for (name, password, hostgroup, max) in std::iter::once(monitor).chain(users) {
        rows.push(insert(
            "mysql_users",
            &[
                ("username", quote(name)),
                ("password", quote(&password)),
                ("default_hostgroup", hostgroup.to_string()),
                ("max_connections", max.to_string()),
                ("active", "1".into()),
            ],
        ));
    }
    if p.read_write_split {
        for (id, digest, hostgroup) in [
            (1, "^SELECT .* FOR UPDATE", p.writer_hostgroup),
            (2, "^SELECT", p.reader_hostgroup),
        ] {
            rows.push(insert(
                "mysql_query_rules",
                &[
                    ("rule_id", id.to_string()),
                    ("active", "1".into()),
                    ("match_digest", quote(digest)),
                    ("destination_hostgroup", hostgroup.to_string()),
                    ("apply", "1".into()),
                ],
            ));
        }
    }
    let [user, password] = VARIABLES.map(String::from);
    let variables = [
        (user, MONITOR_USER.to_string()),
        (
            password,
            secrets.proxy_monitor_password.expose().to_string(),
        ),
    ];
    Some(AdminBatch {
        port,
        user: ADMIN_USER.into(),
        password: secrets.proxy_admin_password.expose().to_string(),
        statements: batch(&rows, &variables),
    })
}

/// `INSERT INTO table (columns) VALUES (values)` for `row` (column, SQL value), with the
/// table it fills.
fn insert<'a>(table: &'a str, row: &[(&str, String)]) -> (&'a str, String) {
    let columns: Vec<&str> = row.iter().map(|(c, _)| *c).collect();
    let values: Vec<&str> = row.iter().map(|(_, v)| v.as_str()).collect();
    (
        table,
        format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            values.join(", ")
        ),
    )
}

/// Replace every configured table with `rows` (table, one INSERT), set `variables`, load
/// each group to runtime and save it to disk.
fn batch(rows: &[(&str, String)], variables: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (tables, group) in GROUPS {
        for table in tables {
            out.push(format!("DELETE FROM {table}"));
            out.extend(
                rows.iter()
                    .filter(|(t, _)| t == table)
                    .map(|(_, insert)| insert.clone()),
            );
        }
        out.push(format!("LOAD {group} TO RUNTIME"));
        out.push(format!("SAVE {group} TO DISK"));
    }
    for (name, value) in variables {
        out.push(format!(
            "UPDATE global_variables SET variable_value = {} WHERE variable_name = {}",
            quote(value),
            quote(name)
        ));
    }
    out.push("LOAD MYSQL VARIABLES TO RUNTIME".into());
    out.push("SAVE MYSQL VARIABLES TO DISK".into());
    out
}

/// The monitor user every backend needs, with the password to take from the secrets
/// file (never printed): what `hakit plan` shows for the proxysql profile.
pub fn monitor_grants() -> Vec<String> {
    vec![
        format!("CREATE USER IF NOT EXISTS '{MONITOR_USER}'@'%' IDENTIFIED BY '<proxy_monitor_password from the secrets file>';"),
        format!("GRANT USAGE, REPLICATION CLIENT ON *.* TO '{MONITOR_USER}'@'%';"),
    ]
}

/// What reads ProxySQL's configuration now: one SELECT per table, then the variables.
pub fn snapshot_queries() -> Vec<String> {
    GROUPS
        .iter()
        .flat_map(|(tables, _)| tables.iter())
        .map(|t| format!("SELECT * FROM {t}"))
        .chain(std::iter::once(format!(
            "SELECT variable_name, variable_value FROM global_variables WHERE variable_name IN ({})",
            VARIABLES.map(quote).join(", ")
        )))
        .collect()
}

/// The statements that put back what [`snapshot_queries`] read (`results`, in order).
pub fn restore_statements(results: &[QueryResult]) -> anyhow::Result<Vec<String>> {
    let tables: Vec<&str> = GROUPS.iter().flat_map(|(t, _)| t.iter().copied()).collect();
    if results.len() != tables.len() + 1 {
        anyhow::bail!(
            "ProxySQL answered {} of the {} snapshot queries",
            results.len(),
            tables.len() + 1
        );
    }
    let mut rows: Vec<(&str, String)> = Vec::new();
    for (table, result) in tables.iter().zip(results) {
        for values in &result.rows {
            let row: Vec<(&str, String)> = result
                .columns
                .iter()
                .map(String::as_str)
                .zip(
                    values
                        .iter()
                        .map(|v| v.as_deref().map_or("NULL".to_string(), quote)),
                )
                .collect();
            rows.push(insert(table, &row));
        }
    }
    let variables: Vec<(String, String)> = results[tables.len()]
        .rows
        .iter()
        .filter_map(|r| Some((r.first()?.clone()?, r.get(1)?.clone()?)))
        .collect();
    Ok(batch(&rows, &variables))
}

/// An SQL string literal (ProxySQL's admin is SQLite: quotes are doubled).
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(extra: &str) -> Cluster {
        crate::config::parse(&format!("name = \"demo\"\nmode = \"l2-vip\"\nprofile = \"proxysql\"\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n[[backend]]\naddress = \"192.0.2.21:3306\"\n[[backend]]\naddress = \"192.0.2.22:3307\"\nweight = 2\n[vip]\naddress = \"192.0.2.100/24\"\ninterface = \"eth0\"\n[vrrp]\nvirtual_router_id = 51\n[proxysql]\n{extra}\n[[proxysql.user]]\nname = \"app\"\ndefault_hostgroup = \"reader\"\n")).expect("cluster")
    }

    fn secrets() -> Secrets {
        Secrets::parse("proxy_admin_password = \"adminPW\"\nproxy_monitor_password = \"monPW\"\nstats_password = \"statsPW\"\n[proxysql_users]\napp = \"appPW\"\n").expect("secrets")
    }

    fn profile() -> Profile {
        crate::profile::load("proxysql", std::path::Path::new(".")).expect("profile")
    }

    #[test]
    fn the_desired_configuration_replaces_each_table_and_loads_and_saves_it() {
        let batch =
            desired(&cluster("read_write_split = true"), &profile(), &secrets()).expect("proxysql");
        assert_eq!((batch.port, batch.user.as_str()), (6032, "hakit"));
        assert_eq!(batch.password, "adminPW");
        let s = &batch.statements;
        let at = |prefix: &str| {
            s.iter()
                .position(|x| x.starts_with(prefix))
                .unwrap_or_else(|| panic!("{prefix} in {s:#?}"))
        };
        assert!(at("DELETE FROM mysql_servers") < at("INSERT INTO mysql_servers"));
        assert!(at("INSERT INTO mysql_servers") < at("LOAD MYSQL SERVERS TO RUNTIME"));
        assert!(at("LOAD MYSQL SERVERS TO RUNTIME") < at("SAVE MYSQL SERVERS TO DISK"));
        assert!(s.contains(&"INSERT INTO mysql_servers (hostgroup_id, hostname, port, weight, max_connections) VALUES (10, '192.0.2.22', 3307, 2, 1000)".to_string()));
        assert!(s.contains(&"INSERT INTO mysql_users (username, password, default_hostgroup, max_connections, active) VALUES ('app', 'appPW', 20, 1000, 1)".to_string()));
        assert!(s
            .iter()
            .any(|x| x.starts_with("INSERT INTO mysql_replication_hostgroups")));
        assert_eq!(
            s.iter()
                .filter(|x| x.starts_with("INSERT INTO mysql_query_rules"))
                .count(),
            2
        );
        assert!(s.contains(&"UPDATE global_variables SET variable_value = 'monPW' WHERE variable_name = 'mysql-monitor_password'".to_string()));
        assert_eq!(
            s.last().map(String::as_str),
            Some("SAVE MYSQL VARIABLES TO DISK")
        );
        let galera =
            desired(&cluster("topology = \"galera\""), &profile(), &secrets()).expect("proxysql");
        assert!(galera
            .statements
            .iter()
            .any(|x| x.starts_with("INSERT INTO mysql_galera_hostgroups")));
        assert!(!galera
            .statements
            .iter()
            .any(|x| x.starts_with("INSERT INTO mysql_query_rules")));
        let haproxy = crate::profile::load("haproxy", std::path::Path::new(".")).expect("profile");
        assert_eq!(desired(&cluster(""), &haproxy, &secrets()), None);
    }

    #[test]
    fn a_snapshot_reads_back_as_the_statements_that_restore_it() {
        let queries = snapshot_queries();
        let mut results = vec![QueryResult::default(); queries.len()];
        results[0] = QueryResult {
            columns: vec!["hostgroup_id".into(), "hostname".into(), "comment".into()],
            rows: vec![vec![Some("0".into()), Some("db'1".into()), None]],
        };
        results[queries.len() - 1] = QueryResult {
            columns: vec!["variable_name".into(), "variable_value".into()],
            rows: vec![vec![
                Some("mysql-monitor_username".into()),
                Some("monitor".into()),
            ]],
        };
        let restore = restore_statements(&results).expect("restore");
        assert!(restore.contains(&"INSERT INTO mysql_servers (hostgroup_id, hostname, comment) VALUES ('0', 'db''1', NULL)".to_string()));
        assert!(restore.contains(&"DELETE FROM mysql_users".to_string()));
        assert!(restore.contains(&"UPDATE global_variables SET variable_value = 'monitor' WHERE variable_name = 'mysql-monitor_username'".to_string()));
        assert!(restore_statements(&results[1..]).is_err());
    }
}
