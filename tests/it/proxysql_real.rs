//! The proxysql profile against real processes: Debian's MariaDB as the backend (a private
//! instance in the test's own directory on a free loopback port) and the ProxySQL built
//! from its public source in ../shared/vendor/proxysql (BUILD.md), started from the
//! `proxysql.cnf` that `hakit render` writes. A configured user logs in through the client
//! port and reaches the backend; the monitor user sees it; a backend turned read_only
//! moves to the reader hostgroup.

use crate::common::{require_tool, TEST_SECRETS};
use hakit::host::Host;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const APP_PASSWORD: &str = "TESTappPW";
const ADMIN_PASSWORD: &str = "TESTadminPW";
const MONITOR_PASSWORD: &str = "TESTmonitorPW";

/// The test secrets with the password of `app`, the cluster files' ProxySQL user.
pub fn secrets_with_app() -> String {
    format!("{TEST_SECRETS}\n[proxysql_users]\napp = \"{APP_PASSWORD}\"\n")
}

/// The vendored ProxySQL binary, if this checkout has it beside it (CI=true: it must).
pub fn proxysql_binary() -> Option<PathBuf> {
    let path = std::env::var_os("HAKIT_PROXYSQL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vendor/proxysql/proxysql")
        });
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!(
            "the ProxySQL binary is not at {} (see ../shared/vendor/proxysql/BUILD.md, or set HAKIT_PROXYSQL_BIN)",
            path.display()
        );
    }
    eprintln!("SKIPPED: no ProxySQL binary at {}", path.display());
    None
}

/// A free TCP port on loopback (bound, then released for the daemon to take).
/// A port free now on 127.0.0.1 and never handed out before in this test process: tests run
/// in parallel and each binds its port only later, so two of them asking the kernel at about
/// the same time could otherwise be given the same one.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no port not handed out before in 100 tries");
}

/// A child process killed (and reaped) on drop.
pub struct Killed(pub Child);

impl Killed {
    /// SIGKILL and reap it now.
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait (bounded) until `check` holds; panics naming `what`.
pub fn wait_for(what: &str, limit: Duration, check: impl FnMut() -> bool) -> Duration {
    wait_for_or_show(what, limit, check, String::new)
}

/// The same, and the panic shows what `show` says of the state it ended in.
pub fn wait_for_or_show(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> bool,
    show: impl Fn() -> String,
) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {limit:?}\n{}", show());
}

/// A private MariaDB server on 127.0.0.1:`port`, data in `dir`.
pub struct Mariadb {
    pub port: u16,
    pub socket: PathBuf,
    server: Killed,
}

impl Mariadb {
    pub fn start(dir: &Path) -> Mariadb {
        Mariadb::start_with(dir, &[])
    }

    /// The same with more server options (Galera's).
    pub fn start_with(dir: &Path, options: &[String]) -> Mariadb {
        Mariadb::start_in(dir, None, "127.0.0.1", free_port(), options)
    }

    /// In network namespace `netns` (if any), listening on `bind`:`port`.
    pub fn start_in(
        dir: &Path,
        netns: Option<&str>,
        bind: &str,
        port: u16,
        options: &[String],
    ) -> Mariadb {
        let data = dir.join("data");
        std::fs::create_dir_all(&data).expect("datadir");
        // Nothing shared with another test's server: --no-defaults (first, as it must be)
        // leaves Debian's /etc/mysql out, and each server has its own temporary directory
        // (two bootstraps at once in /tmp failed with "Unknown table 'mysql.tmp_user_sys'").
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmpdir");
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            .output()
            .expect("mariadb-install-db");
        assert!(out.status.success(), "mariadb-install-db: {}", text(&out));
        let socket = dir.join("mysqld.sock");
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "mariadbd"]);
                c
            }
            None => Command::new("mariadbd"),
        };
        let server = command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .arg(format!("--port={port}"))
            .arg(format!("--bind-address={bind}"))
            .args(["--user=root", "--skip-log-bin"])
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd");
        let db = Mariadb {
            port,
            socket,
            server: Killed(server),
        };
        wait_for("MariaDB to answer", Duration::from_secs(30), || {
            db.sql("SELECT 1").status.success()
        });
        db
    }

    /// SIGKILL the server and reap it.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// The users the tests' ProxySQL needs here: `app` (all rights on `app_grants_on`) and
    /// the monitor user, with the tests' passwords.
    pub fn create_users(&self, app_grants_on: &str) {
        self.ok(&format!(
            "CREATE USER 'app'@'%' IDENTIFIED BY '{APP_PASSWORD}'; GRANT ALL ON {app_grants_on} TO 'app'@'%';\
             CREATE USER 'hakit_monitor'@'%' IDENTIFIED BY '{MONITOR_PASSWORD}';\
             GRANT USAGE, REPLICATION CLIENT ON *.* TO 'hakit_monitor'@'%';"
        ));
    }

    /// Run `sql` as root over the socket.
    pub fn sql(&self, sql: &str) -> Output {
        Command::new("mariadb")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-uroot", "--batch", "--skip-column-names", "-e", sql])
            .output()
            .expect("mariadb client")
    }

    pub fn ok(&self, sql: &str) -> String {
        let out = self.sql(sql);
        assert!(out.status.success(), "{sql}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run `sql` through a MySQL-protocol port on loopback as `user`.
pub fn client(port: u16, user: &str, password: &str, sql: &str) -> Output {
    Command::new("mariadb")
        .args(["-h127.0.0.1", &format!("-P{port}"), &format!("-u{user}")])
        .arg(format!("-p{password}"))
        .args([
            "--batch",
            "--skip-column-names",
            "--connect-timeout=3",
            "-e",
            sql,
        ])
        .output()
        .expect("mariadb client")
}

pub fn client_ok(port: u16, user: &str, password: &str, sql: &str) -> String {
    let out = client(port, user, password, sql);
    assert!(
        out.status.success(),
        "{sql} on port {port} as {user}: {}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A login with hakit's own MySQL client to 127.0.0.1:`port` (3 s at most).
fn login(port: u16, user: &str, password: &str) -> anyhow::Result<hakit::host::mysql_wire::Conn> {
    hakit::host::mysql_wire::Conn::connect(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        user,
        password,
        Duration::from_secs(3),
    )
}

/// The proxysql profile's cluster file for a backend on `backend_port`, with the proxy's
/// client and admin ports, and `extra` under `[proxysql]`.
pub fn cluster_file(backend_port: u16, port: u16, admin_port: u16, extra: &str) -> String {
    format!(
        "name = \"px\"\nmode = \"l2-vip\"\nprofile = \"proxysql\"\n\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n\n[[backend]]\naddress = \"127.0.0.1:{backend_port}\"\n\n[vip]\naddress = \"192.0.2.100/24\"\ninterface = \"lo\"\n\n[vrrp]\nvirtual_router_id = 51\n\n[proxy]\nport = {port}\nadmin_port = {admin_port}\n\n[proxysql]\n{extra}\n[[proxysql.user]]\nname = \"app\"\n"
    )
}

/// ProxySQL started from the proxysql.cnf `hakit render` writes for `cluster`, with its
/// datadir in `dir`.
pub struct Proxysql {
    process: Killed,
    pub cnf: PathBuf,
}

impl Proxysql {
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// SIGKILL and reap it (bounded: kill cannot be refused).
    pub fn stop(&mut self) {
        self.process.stop();
    }

    pub fn start(binary: &Path, dir: &Path, cluster: &str) -> Proxysql {
        let config = dir.join("cluster.toml");
        std::fs::write(&config, cluster).expect("cluster file");
        let secrets = dir.join("secrets.toml");
        std::fs::write(&secrets, secrets_with_app()).expect("secrets");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let out = dir.join("rendered");
        let _ = std::fs::remove_dir_all(&out);
        let rendered = Command::new(env!("CARGO_BIN_EXE_hakit"))
            .args(["render", "--role", "master", "--config"])
            .arg(&config)
            .arg("--secrets")
            .arg(&secrets)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("hakit render");
        assert!(
            rendered.status.success(),
            "hakit render: {}",
            text(&rendered)
        );
        let cnf = out.join("etc/proxysql.cnf");
        let data = dir.join("pxdata");
        std::fs::create_dir_all(&data).expect("datadir");
        let log = std::fs::File::create(dir.join("proxysql.out")).expect("log");
        let process = Command::new(binary)
            .args(["-f", "--no-version-check", "-c"])
            .arg(&cnf)
            .arg("-D")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .expect("proxysql");
        Proxysql {
            process: Killed(process),
            cnf,
        }
    }
}

/// Until app logs in through the client port and hakit through the admin interface
/// (which listens a moment after the client port), bounded; how long the login took.
fn wait_ready(port: u16, admin: u16) -> Duration {
    let took = wait_for("ProxySQL to let app in", Duration::from_secs(30), || {
        client(port, "app", APP_PASSWORD, "SELECT 1")
            .status
            .success()
    });
    wait_for(
        "ProxySQL's admin interface",
        Duration::from_secs(30),
        || {
            client(admin, "hakit", ADMIN_PASSWORD, "SELECT 1")
                .status
                .success()
        },
    );
    took
}

fn ready(what: &str) -> Option<PathBuf> {
    for tool in ["mariadbd", "mariadb-install-db", "mariadb"] {
        if !require_tool(tool) {
            return None;
        }
    }
    let binary = proxysql_binary()?;
    eprintln!("{what}: ProxySQL from {}", binary.display());
    Some(binary)
}

#[test]
fn a_configured_user_logs_in_through_proxysql_and_the_monitor_follows_read_only() {
    let Some(binary) = ready("proxysql with MariaDB") else {
        return;
    };
    let dir = crate::common::fresh_dir("proxysql-real");
    let db = Mariadb::start(&dir.join("mariadb"));
    db.create_users("shop.*");
    db.ok("CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY); INSERT INTO shop.orders VALUES (1), (2);");
    let (port, admin) = (free_port(), free_port());
    let px = Proxysql::start(&binary, &dir, &cluster_file(db.port, port, admin, ""));
    let cnf = std::fs::read_to_string(&px.cnf).expect("cnf");
    assert!(cnf.contains("username=\"app\""), "{cnf}");

    // A client logs in as the configured user and its query reaches the backend.
    let took = wait_ready(port, admin);
    let rows = client_ok(
        port,
        "app",
        APP_PASSWORD,
        "SELECT @@port, COUNT(*) FROM shop.orders",
    );
    assert_eq!(rows.trim(), format!("{}\t2", db.port), "through ProxySQL");
    eprintln!("figure: ProxySQL from hakit's config served a login {took:?} after start");
    // A wrong password is refused by ProxySQL itself.
    assert!(!client(port, "app", "wrong", "SELECT 1").status.success());

    // The monitor user (hakit_monitor, the secrets file's password) reaches the backend,
    // which is ONLINE in the writer hostgroup.
    let admin_sql = |sql: &str| client_ok(admin, "hakit", ADMIN_PASSWORD, sql);
    wait_for("the monitor to connect", Duration::from_secs(20), || {
        let out = client(
            admin,
            "hakit",
            ADMIN_PASSWORD,
            "SELECT COUNT(*) FROM monitor.mysql_server_connect_log WHERE connect_error IS NULL",
        );
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() != "0"
    });
    // What ProxySQL's monitor saw, for a failure on a loaded machine (its checks have
    // timeouts of their own: a late ping shuns a server for a while).
    let show = || {
        [
            "SELECT hostgroup_id, hostname, port, status FROM runtime_mysql_servers",
            "SELECT hostname, port, ping_error FROM monitor.mysql_server_ping_log ORDER BY time_start_us DESC LIMIT 3",
            "SELECT hostname, port, read_only, error FROM monitor.mysql_server_read_only_log ORDER BY time_start_us DESC LIMIT 3",
        ]
        .iter()
        .map(|q| {
            let out = client(admin, "hakit", ADMIN_PASSWORD, q);
            format!("{q}:\n{}", text(&out))
        })
        .collect::<Vec<_>>()
        .join("\n")
    };
    wait_for_or_show(
        "the backend ONLINE in the writer hostgroup",
        Duration::from_secs(20),
        || {
            admin_sql(
                "SELECT hostgroup_id, status FROM runtime_mysql_servers WHERE hostgroup_id = 10",
            )
            .trim()
                == "10\tONLINE"
        },
        show,
    );

    // hakit's own client speaks the protocol to both: the admin interface and MariaDB.
    let mut admin_conn = login(admin, "hakit", ADMIN_PASSWORD)
        .expect("hakit's client logs in to the admin interface");
    let servers = admin_conn
        .query("SELECT hostgroup_id, hostname, port FROM runtime_mysql_servers WHERE hostgroup_id = 10")
        .expect("query");
    assert_eq!(servers.columns, ["hostgroup_id", "hostname", "port"]);
    assert_eq!(
        servers.rows,
        vec![vec![
            Some("10".to_string()),
            Some("127.0.0.1".to_string()),
            Some(db.port.to_string())
        ]]
    );
    let mut app =
        login(port, "app", APP_PASSWORD).expect("hakit's client logs in through ProxySQL");
    let rows = app
        .query("SELECT id, NULL FROM shop.orders ORDER BY id")
        .expect("query");
    assert_eq!(
        rows.rows,
        vec![
            vec![Some("1".to_string()), None],
            vec![Some("2".to_string()), None]
        ]
    );
    let refused = login(admin, "hakit", "wrong");
    assert!(
        refused
            .as_ref()
            .err()
            .is_some_and(|e| format!("{e:#}").contains("Access denied")),
        "{:?}",
        refused.err()
    );

    // read_only on the backend: ProxySQL's replication hostgroups take it out of the
    // writers and keep it as a reader; writes through ProxySQL then fail, reads work.
    db.ok("SET GLOBAL read_only = 1");
    let took = wait_for_or_show(
        "the read-only backend to leave the writer hostgroup",
        Duration::from_secs(20),
        || admin_sql("SELECT GROUP_CONCAT(hostgroup_id) FROM runtime_mysql_servers").trim() == "20",
        show,
    );
    eprintln!("figure: ProxySQL moved a read_only backend to the readers in {took:?}");
}

/// The cluster file's ProxySQL configuration for `backends`, as setup's steps for it: the
/// rendered proxysql.cnf (a change makes ProxySQL's reload due) and the live load.
fn live_steps(backends: &[u16], port: u16, admin: u16) -> Vec<hakit::plan::Step> {
    let mut text = cluster_file(backends[0], port, admin, "");
    for extra in &backends[1..] {
        text = text.replace(
            "\n[vip]",
            &format!("\n[[backend]]\naddress = \"127.0.0.1:{extra}\"\n\n[vip]"),
        );
    }
    let cluster = crate::common::parse(&text);
    let profile = crate::common::shipped_profile("proxysql");
    let secrets = hakit::secrets::Secrets::parse(&secrets_with_app()).expect("secrets");
    let files = crate::common::render_text_with(&text, hakit::role::Role::Master, &secrets);
    let cnf = files
        .into_iter()
        .find(|f| f.path.ends_with("proxysql.cnf"))
        .expect("proxysql.cnf");
    let batch =
        hakit::render::proxysql_runtime::desired(&cluster, &profile, &secrets).expect("batch");
    vec![
        hakit::plan::Step::WriteFile {
            file: cnf,
            reloads: Some("proxysql".into()),
        },
        hakit::plan::Step::LoadProxysqlRuntime {
            service: "proxysql".into(),
            port: batch.port,
            batch,
        },
    ]
}

/// Setup's live load against the real ProxySQL (the host otherwise in memory, with
/// ProxySQL "running"): a second backend reaches ProxySQL's runtime without a restart and
/// an open client session keeps working; a re-run with nothing changed sends nothing;
/// rollback puts back what ProxySQL had before.
#[test]
fn a_changed_configuration_is_loaded_live_and_rolled_back() {
    let Some(binary) = ready("proxysql live reconfiguration") else {
        return;
    };
    let dir = crate::common::fresh_dir("proxysql-live");
    let dbs = [
        Mariadb::start(&dir.join("db1")),
        Mariadb::start(&dir.join("db2")),
    ];
    for db in &dbs {
        db.create_users("*.*");
    }
    let (port, admin) = (free_port(), free_port());
    let _px = Proxysql::start(&binary, &dir, &cluster_file(dbs[0].port, port, admin, ""));
    wait_ready(port, admin);
    let servers = || {
        let out = client_ok(
            admin,
            "hakit",
            ADMIN_PASSWORD,
            "SELECT port FROM runtime_mysql_servers WHERE hostgroup_id = 10 ORDER BY port",
        );
        out.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(servers(), vec![dbs[0].port.to_string()]);

    let host = crate::cloud_steps::host();
    host.state.borrow_mut().running.insert("proxysql".into());
    host.sql_for_real.set(true);
    let run = |steps: Vec<hakit::plan::Step>| -> Vec<hakit::apply::Status> {
        let plan = crate::cloud_steps::plan(steps);
        let input = hakit::apply::ApplyInput {
            plan: &plan,
            cluster: &crate::common::parse(&cluster_file(dbs[0].port, port, admin, "")),
            cloud: None,
            facts: None,
            state_dir: Path::new("/var/lib/hakit"),
            no_start: false,
            skip_cloud: true,
            crash_after: None,
            crash_at: None,
            templates: None,
        };
        hakit::apply::apply(&host, &input, &mut |_: &_| {})
            .expect("apply")
            .into_iter()
            .map(|r| r.status)
            .collect()
    };
    use hakit::apply::Status::{AlreadyDone, Applied};
    let before = host.snapshot();

    // The first setup writes proxysql.cnf: what ProxySQL holds is kept, then loaded.
    assert_eq!(
        run(live_steps(&[dbs[0].port], port, admin)),
        [Applied, Applied]
    );
    assert!(host
        .read(Path::new("/var/lib/hakit/proxysql-before.json"))
        .expect("read")
        .is_some());
    let mut session = login(port, "app", APP_PASSWORD).expect("a client session");
    session.query("SELECT 1").expect("the session works");

    // A second backend: loaded live, the open session still answers.
    assert_eq!(
        run(live_steps(&[dbs[0].port, dbs[1].port], port, admin)),
        [Applied, Applied]
    );
    let mut both = vec![dbs[0].port.to_string(), dbs[1].port.to_string()];
    both.sort();
    wait_for(
        "both backends in the writer hostgroup",
        Duration::from_secs(10),
        || servers() == both,
    );
    session
        .query("SELECT 1")
        .expect("the session opened before the change still works");

    // Nothing changed: nothing is sent.
    let sent = host.sql_log.borrow().len();
    assert_eq!(
        run(live_steps(&[dbs[0].port, dbs[1].port], port, admin)),
        [AlreadyDone, AlreadyDone]
    );
    assert_eq!(
        host.sql_log.borrow().len(),
        sent,
        "a re-run sent statements"
    );

    // Rollback: ProxySQL's configuration as before the first load, the host as before.
    let report = hakit::rollback::rollback(&host, None, Path::new("/var/lib/hakit"), false)
        .expect("rollback");
    assert!(report.remaining.is_empty(), "{report:?}");
    assert_eq!(servers(), vec![dbs[0].port.to_string()]);
    assert_eq!(host.snapshot(), before, "the host as before");
}

/// The proxysql profile's health check, as rendered (a whole login through the client
/// port as the monitor user, by hakit), against the real ProxySQL: healthy while it runs,
/// unhealthy while it is hung (SIGSTOP: the kernel still completes the TCP handshake),
/// with a wrong monitor password, and once it is stopped.
#[test]
fn the_health_check_fails_on_a_hung_or_stopped_proxysql() {
    let Some(binary) = ready("the proxysql health check") else {
        return;
    };
    let dir = crate::common::fresh_dir("proxysql-check");
    let db = Mariadb::start(&dir.join("db"));
    let (port, admin) = (free_port(), free_port());
    // The check reads the cluster and secrets files from paths.config_dir.
    let paths = format!("[paths]\nconfig_dir = \"{}\"\n", dir.display());
    let mut px = Proxysql::start(&binary, &dir, &cluster_file(db.port, port, admin, &paths));
    let check = dir.join("rendered/usr/local/libexec/hakit/check_proxy_login.sh");
    let script = std::fs::read_to_string(&check).expect("the rendered check");
    assert!(
        script.contains(&format!(
            "status --login-check --config {}/cluster.toml",
            dir.display()
        )),
        "{script}"
    );
    let healthy = || {
        Command::new("bash")
            .arg(&check)
            .status()
            .expect("bash")
            .success()
    };
    wait_for(
        "the check to pass on a running ProxySQL",
        Duration::from_secs(30),
        healthy,
    );
    let pid = px.pid().to_string();
    let signal = |sig: &str| {
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
            .success())
    };
    signal("-STOP");
    let started = Instant::now();
    let hung = healthy();
    let took = started.elapsed();
    signal("-CONT");
    assert!(!hung, "the check passed on a SIGSTOPped ProxySQL");
    eprintln!("figure: the login check failed a hung ProxySQL in {took:?}");
    wait_for(
        "the check to pass again after SIGCONT",
        Duration::from_secs(10),
        healthy,
    );
    // The secrets file's monitor password is what ProxySQL checks.
    let secrets = dir.join("secrets.toml");
    let good = std::fs::read_to_string(&secrets).expect("secrets");
    std::fs::write(&secrets, good.replace(MONITOR_PASSWORD, "notTheMonitorPW")).expect("write");
    assert!(!healthy(), "the check passed with a wrong monitor password");
    std::fs::write(&secrets, &good).expect("write");
    assert!(healthy(), "the check with the right password again");
    px.stop();
    assert!(!healthy(), "the check passed on a stopped ProxySQL");
}

/// Every form of the rendered proxysql.cnf is read by ProxySQL itself (it has no config
/// check of its own: a scratch datadir, so it reads the file, then its admin interface asked):
/// replication and Galera hostgroups, the read/write split's query rules, the users.
#[test]
fn proxysql_reads_every_rendering_of_its_config() {
    let Some(binary) = ready("proxysql parsing hakit's renderings") else {
        return;
    };
    let dir = crate::common::fresh_dir("proxysql-parse");
    let cases = [
        ("", "mysql_replication_hostgroups", "10\t20"),
        (
            "topology = \"galera\"\n",
            "mysql_galera_hostgroups",
            "10\t20",
        ),
        (
            "read_write_split = true\nwriter_hostgroup = 1\nreader_hostgroup = 2\n",
            "mysql_query_rules",
            "",
        ),
    ];
    for (i, (extra, table, expected)) in cases.iter().enumerate() {
        let case = dir.join(format!("case{i}"));
        std::fs::create_dir_all(&case).expect("dir");
        let (port, admin) = (free_port(), free_port());
        let _px = Proxysql::start(&binary, &case, &cluster_file(3306, port, admin, extra));
        wait_for(
            "ProxySQL's admin interface",
            Duration::from_secs(30),
            || {
                client(admin, "hakit", ADMIN_PASSWORD, "SELECT 1")
                    .status
                    .success()
            },
        );
        let ask = |sql: &str| client_ok(admin, "hakit", ADMIN_PASSWORD, sql);
        assert_eq!(
            ask("SELECT username, default_hostgroup FROM mysql_users ORDER BY username").trim(),
            if i == 2 {
                "app\t1\nhakit_monitor\t1"
            } else {
                "app\t10\nhakit_monitor\t10"
            },
            "case {i}"
        );
        assert_eq!(
            ask("SELECT hostname, port FROM mysql_servers").trim(),
            "127.0.0.1\t3306",
            "case {i}"
        );
        match *table {
            "mysql_query_rules" => assert_eq!(
                ask("SELECT rule_id, match_digest, destination_hostgroup FROM mysql_query_rules ORDER BY rule_id")
                    .trim(),
                "1\t^SELECT .* FOR UPDATE\t1\n2\t^SELECT\t2",
                "case {i}"
            ),
            _ => assert_eq!(
                ask(&format!("SELECT writer_hostgroup, reader_hostgroup FROM {table}")).trim(),
                *expected,
                "case {i}"
            ),
        }
    }
}
