//! The haproxy profile's rendering run by the real HAProxy: the stats page answers with
//! the secrets file's password and refuses without it, and the health endpoint the check
//! asks answers only while HAProxy does.

use crate::common::{cluster_toml, require_tool, TEST_SECRETS};
use crate::proxysql_real::{free_port, wait_for, Killed};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The status line of a GET of `path` on 127.0.0.1:`port`, with `auth` as basic auth.
fn get(port: u16, path: &str, auth: Option<&str>) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let header = auth
        .map(|a| format!("Authorization: Basic {}\r\n", base64(a.as_bytes())))
        .unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.0\r\n{header}\r\n").ok()?;
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    reply.lines().next().map(str::to_string)
}

/// RFC 4648 base64, for a basic-auth header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_stats_page_takes_the_generated_password_and_the_health_endpoint_follows_haproxy() {
    if !require_tool("haproxy") {
        return;
    }
    let dir = crate::common::fresh_dir("haproxy-real");
    let (port, stats) = (free_port(), free_port());
    let text = cluster_toml(
        "haproxy",
        "l2-vip",
        &format!(
            "\n[proxy]\nport = {port}\nstats_port = {stats}\n\n[paths]\nrun_dir = \"{}\"\n",
            dir.display()
        ),
    );
    let files = crate::common::render_text(&text, hakit::role::Role::Master);
    let cfg = files
        .iter()
        .find(|f| f.path.ends_with("haproxy.cfg"))
        .expect("haproxy.cfg");
    // This machine's syslog socket and haproxy user may be missing: the test runs it as
    // itself, logging nowhere.
    let contents = cfg
        .contents
        .replace("    log /dev/log local0\n", "")
        .replace("    user haproxy\n    group haproxy\n", "");
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, contents).expect("cfg");
    let health_port: u16 = 8405;
    let process = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy");
    let mut haproxy = Killed(process);
    let password = TEST_SECRETS
        .lines()
        .find_map(|l| l.strip_prefix("stats_password = "))
        .map(|v| v.trim_matches('"'))
        .expect("stats password");
    wait_for("HAProxy's stats page", Duration::from_secs(10), || {
        get(stats, "/stats", None).is_some()
    });
    let with = get(stats, "/stats", Some(&format!("hakit:{password}")));
    assert!(
        with.as_deref().is_some_and(|s| s.contains(" 200")),
        "{with:?}"
    );
    let without = get(stats, "/stats", None);
    assert!(
        without.as_deref().is_some_and(|s| s.contains(" 401")),
        "{without:?}"
    );
    let wrong = get(stats, "/stats", Some("hakit:wrong"));
    assert!(
        wrong.as_deref().is_some_and(|s| s.contains(" 401")),
        "{wrong:?}"
    );
    let health = get(health_port, "/hakit-health", None);
    assert!(
        health.as_deref().is_some_and(|s| s.contains(" 200")),
        "{health:?}"
    );
    assert_eq!(base64(b"hakit:pw"), "aGFraXQ6cHc=");
    haproxy.stop();
    assert_eq!(
        get(health_port, "/hakit-health", None),
        None,
        "HAProxy is gone"
    );
}
