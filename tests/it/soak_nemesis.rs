//! The soak's nemesis (`soak.rs`): the faults it picks from, how each begins and heals,
//! and how two overlap. Seeded: the same seed injects the same faults with the same holds.

use crate::e2e::{ec2_fault, ok, sh, Lab, Node, AWS_IP};
use std::time::{Duration, Instant};

/// xorshift64*: small, deterministic, good enough to pick faults.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A duration between `lo` and `hi` milliseconds.
    pub(crate) fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    ProxyKilled,
    ProxyHung,
    KeepalivedKilled,
    KeepalivedPaused,
    VrrpCut,
    NodeCutFromEc2,
    Ec2Down,
    Ec2Throttling,
    Ec2Errors,
    Ec2Slow,
    NotifyKilledMidTakeover,
}

pub(crate) const FAULTS: [Fault; 11] = [
    Fault::ProxyKilled,
    Fault::ProxyHung,
    Fault::KeepalivedKilled,
    Fault::KeepalivedPaused,
    Fault::VrrpCut,
    Fault::NodeCutFromEc2,
    Fault::Ec2Down,
    Fault::Ec2Throttling,
    Fault::Ec2Errors,
    Fault::Ec2Slow,
    Fault::NotifyKilledMidTakeover,
];

/// Pids in `node`'s namespace whose command is `comm`.
pub(crate) fn pids(node: &Node, comm: &str) -> Vec<String> {
    node.ns
        .pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

pub(crate) fn signal(pids: &[String], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let mut argv = vec!["kill", sig];
    argv.extend(pids.iter().map(String::as_str));
    let _ = sh(&argv);
}

/// `iptables` in `node`'s namespace: drop (or stop dropping) its traffic to EC2.
fn ec2_link(node: &Node, up: bool) {
    let op = if up { "-D" } else { "-I" };
    let out = node
        .ns
        .exec(&[
            "iptables", op, "OUTPUT", "-p", "tcp", "-d", AWS_IP, "--dport", "5000", "-j", "DROP",
        ])
        .output()
        .expect("iptables");
    ok(out, "iptables (EC2 link)");
}

/// A fault in progress: what healing it takes.
enum Held {
    /// Start this node's proxy again (unless something already did).
    ProxyDown(usize),
    /// SIGCONT these processes.
    Stopped(Vec<String>),
    /// Start this node's keepalived again (unless something already did).
    KeepalivedDown(usize),
    VrrpCut,
    /// Let these nodes reach EC2 again.
    Ec2Cut(Vec<usize>),
    /// The EC2 proxy answers normally again.
    Ec2Mode,
}

/// Begin `fault` (on the current master `m`, or a node the fault picks). Returns what
/// healing it takes and how long to hold it. `killed` counts, per node, the `hakit`
/// processes the nemesis SIGKILLed (they may not have logged their line).
fn begin(
    lab: &mut Lab,
    fault: Fault,
    m: usize,
    rng: &mut Rng,
    killed: &mut [usize],
) -> (Held, Duration) {
    let other = 1 - m;
    match fault {
        Fault::ProxyKilled => {
            lab.nodes[m].kill_haproxy();
            (Held::ProxyDown(m), rng.millis(500, 5000))
        }
        Fault::ProxyHung | Fault::KeepalivedPaused => {
            let comm = if fault == Fault::ProxyHung {
                "haproxy"
            } else {
                "keepalived"
            };
            let stopped = pids(&lab.nodes[m], comm);
            signal(&stopped, "-STOP");
            (Held::Stopped(stopped), rng.millis(500, 5000))
        }
        Fault::KeepalivedKilled => {
            // Beyond keepalived and its VRRP child, a keepalived process is a notify it
            // forked and has not exec'd yet: killed with them, it logs nothing.
            killed[m] += pids(&lab.nodes[m], "keepalived").len().saturating_sub(2);
            lab.nodes[m].kill_keepalived();
            (Held::KeepalivedDown(m), rng.millis(1000, 5000))
        }
        Fault::VrrpCut => {
            lab.vrrp_link(false);
            (Held::VrrpCut, rng.millis(1000, 10_000))
        }
        Fault::NodeCutFromEc2 => {
            let node = if rng.below(2) == 0 { m } else { other };
            ec2_link(&lab.nodes[node], false);
            (Held::Ec2Cut(vec![node]), rng.millis(1000, 10_000))
        }
        Fault::Ec2Down => {
            for node in &lab.nodes {
                ec2_link(node, false);
            }
            (
                Held::Ec2Cut((0..lab.nodes.len()).collect()),
                rng.millis(1000, 10_000),
            )
        }
        Fault::Ec2Throttling | Fault::Ec2Errors | Fault::Ec2Slow => {
            let how = match fault {
                Fault::Ec2Throttling => "throttle",
                Fault::Ec2Errors => "error",
                _ => "slow",
            };
            ec2_fault(&lab.dir, how);
            (Held::Ec2Mode, rng.millis(1000, 10_000))
        }
        Fault::NotifyKilledMidTakeover => {
            // The master's proxy dies; the backup's `hakit notify master` is killed in the
            // middle of its EC2 calls (bounded hunt: up to 5 s).
            lab.nodes[m].kill_haproxy();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                let notify: Vec<String> = pids(&lab.nodes[other], "hakit");
                if !notify.is_empty() {
                    std::thread::sleep(rng.millis(0, 150));
                    signal(&notify, "-KILL");
                    killed[other] += notify.len();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            (Held::ProxyDown(m), rng.millis(500, 3000))
        }
    }
}

fn heal(lab: &mut Lab, held: Held) {
    match held {
        Held::ProxyDown(i) => {
            if lab.nodes[i].haproxy.is_none() {
                lab.nodes[i].start_haproxy();
            }
        }
        Held::Stopped(pids) => signal(&pids, "-CONT"),
        Held::KeepalivedDown(i) => {
            if lab.nodes[i].keepalived.is_none() {
                lab.nodes[i].start_keepalived();
            }
        }
        Held::VrrpCut => lab.vrrp_link(true),
        Held::Ec2Cut(nodes) => {
            for i in nodes {
                ec2_link(&lab.nodes[i], true);
            }
        }
        Held::Ec2Mode => ec2_fault(&lab.dir, ""),
    }
}

/// Faults that turn the same knob cannot overlap (the second would only replace the
/// first): the EC2 proxy's answer mode.
pub(crate) fn same_knob(a: Fault, b: Fault) -> bool {
    let ec2_mode = |f| matches!(f, Fault::Ec2Throttling | Fault::Ec2Errors | Fault::Ec2Slow);
    a == b || (ec2_mode(a) && ec2_mode(b))
}

/// Run `faults` overlapping: each begins 0.2-2 s after the one before (while it holds),
/// and each is healed when its own hold runs out, in whatever order that gives.
/// Returns once all are healed.
pub(crate) fn inject(
    lab: &mut Lab,
    faults: &[Fault],
    m: usize,
    rng: &mut Rng,
    killed: &mut [usize],
) {
    let mut holding: Vec<(Instant, Held)> = Vec::new();
    for (i, fault) in faults.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(rng.millis(200, 2000));
        }
        let (held, hold) = begin(lab, *fault, m, rng, killed);
        holding.push((Instant::now() + hold, held));
    }
    holding.sort_by_key(|(until, _)| *until);
    for (until, held) in holding {
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        heal(lab, held);
    }
}
