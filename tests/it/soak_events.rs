//! What keepalived itself says happened on a soak node (`soak.rs`): the notifies it ran,
//! read from its `vrrp_notify_fifo`, counted against the failover log's transition lines;
//! and a keepalived process that died without the nemesis.

use crate::e2e::{ok, sh, Lab, Node};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A keepalived process that died on its own (its parent respawns it, and logs why): the
/// nemesis kills keepalived only whole, parent first frozen, which logs nothing.
pub(crate) fn keepalived_death(lab: &Lab) -> Option<String> {
    lab.nodes.iter().find_map(|node| {
        let log = std::fs::read_to_string(node.root.join("keepalived.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let at = lines.iter().position(|l| l.contains("died: Respawning"))?;
        let from = at.saturating_sub(2);
        Some(format!("{}: {}", node.name, lines[from..=at].join(" / ")))
    })
}

/// Linux's O_NONBLOCK (the tests have no libc crate).
const O_NONBLOCK: i32 = 0o4000;

/// keepalived's notify events on one node, from its `vrrp_notify_fifo` (one line per
/// notify it runs). The test holds the fifo open read-write and non-blocking: a restarted
/// keepalived always finds it, and draining it never waits.
pub(crate) struct Events {
    fifo: std::fs::File,
    pending: String,
    /// Per event that runs a notify script: MASTER, BACKUP, FAULT, STOP and
    /// MASTER_RX_LOWER_PRI (not the priority-change events, which run none).
    seen: BTreeMap<String, usize>,
    /// Whether a master hearing a lower priority runs `notify master` here
    /// (`notify_master_rx_lower_pri`: aws-eip only). keepalived writes the event either way.
    rx_lower_pri_notifies: bool,
}

impl Events {
    /// Before `node`'s keepalived starts: the fifo beside its tree, and keepalived told.
    pub(crate) fn open(node: &mut Node) -> Events {
        use std::os::unix::fs::OpenOptionsExt;
        let path = node.root.with_extension("events.fifo");
        let _ = std::fs::remove_file(&path);
        ok(
            sh(&["mkfifo", "-m", "0600", &path.display().to_string()]),
            "mkfifo",
        );
        let fifo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(&path)
            .expect("the events fifo");
        node.events_fifo = Some(path);
        let conf = std::fs::read_to_string(node.root.join("etc/keepalived/keepalived.conf"))
            .expect("keepalived.conf");
        Events {
            fifo,
            pending: String::new(),
            seen: BTreeMap::new(),
            rx_lower_pri_notifies: conf.contains("notify_master_rx_lower_pri "),
        }
    }

    pub(crate) fn drain(&mut self) {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        // Ends at WouldBlock: nothing more written yet.
        while let Ok(n @ 1..) = self.fifo.read(&mut buf) {
            self.pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        while let Some(end) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=end).collect();
            // INSTANCE "hakit_lab" MASTER 150
            let mut words = line.split_whitespace();
            if words.next() != Some("INSTANCE") {
                continue;
            }
            if let Some(event @ ("MASTER" | "BACKUP" | "FAULT" | "STOP" | "MASTER_RX_LOWER_PRI")) =
                words.nth(1)
            {
                *self.seen.entry(event.to_string()).or_default() += 1;
            }
        }
    }
}

/// The failover log's transition lines on `node` (`trigger=transition`), per state (an
/// error line has none: "error").
fn logged_transitions(node: &Node) -> BTreeMap<String, usize> {
    let log =
        std::fs::read_to_string(node.root.join("var/log/hakit/failover.log")).unwrap_or_default();
    let mut per_state = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains(" trigger=transition ")) {
        let state = line
            .split_once(" state=")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or("error");
        *per_state.entry(state.to_string()).or_insert(0) += 1;
    }
    per_state
}

/// One failover-log line per notify keepalived ran, of that state: per state no more
/// lines than notifies, and in all no fewer than the notifies less the `hakit` processes
/// the nemesis killed on that node (a killed one may die before its line). Waits (at most
/// 10 s) for notifies still running.
pub(crate) fn one_line_per_transition(
    lab: &Lab,
    events: &mut [Events],
    killed: &[usize],
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let mut wrong = Vec::new();
        for (i, node) in lab.nodes.iter().enumerate() {
            events[i].drain();
            let seen = &events[i].seen;
            let count = |e: &str| seen.get(e).copied().unwrap_or(0);
            let rx_lower_pri = if events[i].rx_lower_pri_notifies {
                count("MASTER_RX_LOWER_PRI")
            } else {
                0
            };
            let expected: BTreeMap<&str, usize> = [
                ("master", count("MASTER") + rx_lower_pri),
                ("backup", count("BACKUP")),
                ("fault", count("FAULT")),
                ("stop", count("STOP")),
            ]
            .into_iter()
            .collect();
            let logged = logged_transitions(node);
            let total_expected: usize = expected.values().sum();
            let total_logged: usize = logged.values().sum();
            let too_many = logged
                .iter()
                .filter(|(state, _)| *state != "error")
                .any(|(state, n)| *n > expected.get(state.as_str()).copied().unwrap_or(0));
            if too_many
                || total_logged > total_expected
                || total_logged + killed[i] < total_expected
            {
                wrong.push(format!(
                    "{}: keepalived ran notify for {expected:?}, the failover log has {logged:?} ({} notifies killed)",
                    node.name, killed[i]
                ));
            }
        }
        if wrong.is_empty() {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(wrong.join("; "));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
