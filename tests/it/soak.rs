//! A randomized fault soak of a pair in the namespace lab, in each address mode (aws-eip and
//! l2-vip), driven by a seed so a run can be replayed exactly (`HAKIT_SOAK_SEED=<seed>`;
//! `HAKIT_SOAK_ROUNDS` sets how many faults, 8 by default; `HAKIT_SOAK_FAULTS` narrows
//! the kinds). A nemesis picks faults at random: the proxy killed or hung (SIGSTOP for
//! 0.5-5 s), keepalived SIGKILLed (and restarted) or paused, the VRRP link cut for 1-10 s
//! while both nodes reach EC2, a node cut from EC2, the EC2 endpoint down for everyone or
//! answering with throttling, 5xx errors or 2 s of latency, `hakit notify` killed in the
//! middle of a takeover (the EC2 faults only in aws-eip mode). One round in four, two
//! faults overlap: the second begins while the first holds, and each heals when its own
//! hold runs out.
//!
//! A client keeps connecting through the address the whole time, and EC2's view of the
//! address is sampled every 100 ms. After every fault, once the cluster has settled
//! (bounded; the invariants must hold with the same master for longer than VRRP's
//! master-down interval): exactly one VRRP master, the address on that node (EC2 shows it
//! on its ENI; or the VIP is on it alone), its proxy answers through the address, no
//! `hakit notify` is left running, the failover log and the journal parse, and the
//! failover log has one line per notify keepalived ran (counted from keepalived's own
//! `vrrp_notify_fifo`); during it, the Elastic IP changed hands at most twice. Figures
//! per fault kind.
//!
//! The faults are in `soak_nemesis.rs`, what keepalived says happened in `soak_events.rs`.

use crate::e2e::{lab, net_state, tree, wait_until, HolderSampler, Lab, MARKER};
use crate::soak_events::{keepalived_death, one_line_per_transition, Events};
use crate::soak_nemesis::{inject, pids, same_knob, Fault, Rng, FAULTS};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The address keepalived puts on the master: aws-eip's marker, or l2-vip's VIP.
const VIP: &str = "192.0.2.50";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    AwsEip,
    L2Vip,
}

impl Mode {
    fn marker(self) -> &'static str {
        match self {
            Mode::AwsEip => MARKER,
            Mode::L2Vip => VIP,
        }
    }
}

/// The node VRRP says is master now, if exactly one is.
fn master(lab: &Lab, mode: Mode) -> Option<usize> {
    let masters: Vec<usize> = (0..lab.nodes.len())
        .filter(|&i| lab.nodes[i].keepalived.is_some() && lab.nodes[i].holds_marker(mode.marker()))
        .collect();
    (masters.len() == 1).then(|| masters[0])
}

/// Who holds the address and what keepalived and `hakit notify` said last, per node: what a
/// failed "one master" check needs to be understood from CI's output alone.
fn vrrp_picture(lab: &Lab, mode: Mode) -> String {
    let tail = |path: std::path::PathBuf, n: usize| {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n    ")
    };
    lab.nodes
        .iter()
        .map(|n| {
            format!(
                "{}: keepalived {}, holds {}: {}\n  keepalived.log:\n    {}\n  failover.log:\n    {}",
                n.name,
                if n.keepalived.is_some() { "running" } else { "stopped" },
                mode.marker(),
                n.holds_marker(mode.marker()),
                tail(n.root.join("keepalived.log"), 25),
                tail(n.root.join("var/log/hakit/failover.log"), 8),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What one fault did, for the figures.
struct Round {
    faults: Vec<Fault>,
    settled: Duration,
    moves: usize,
    outage: Duration,
}

/// The client's failed stretches: the longest of the soak and of the current round, and
/// when the one going on (if any) began.
#[derive(Default)]
struct Outages {
    longest: Duration,
    this_round: Duration,
    since: Option<Instant>,
}

impl Outages {
    /// The longest outage of the round now ending (counting one still going on), and a
    /// fresh count for the next.
    fn end_round(&mut self) -> Duration {
        let ongoing = self.since.map(|s| s.elapsed()).unwrap_or_default();
        std::mem::take(&mut self.this_round).max(ongoing)
    }
}

/// Why the settled cluster breaks an invariant, or `None`.
fn broken(lab: &Lab, mode: Mode) -> Option<String> {
    let Some(m) = master(lab, mode) else {
        return Some("not exactly one VRRP master".into());
    };
    let node = &lab.nodes[m];
    let reached = match mode {
        Mode::AwsEip => {
            let (eni, _) = lab.eni_of(node.name);
            let holder = lab.holder();
            if holder.as_deref() != Some(eni.as_str()) {
                return Some(format!(
                    "{} is master but EC2 shows the address on {holder:?}",
                    node.name
                ));
            }
            lab.client_reach_eip()
        }
        Mode::L2Vip => lab.client_reach(VIP),
    };
    if let Err(why) = reached {
        return Some(format!("no proxy answers through the address: {why}"));
    }
    // keepalived runs `hakit notify --reconcile` every few seconds: a notify still there
    // a second later is one left running.
    for n in &lab.nodes {
        let running = pids(n, "hakit");
        if !running.is_empty() {
            std::thread::sleep(Duration::from_secs(1));
            let stuck: Vec<String> = pids(n, "hakit")
                .into_iter()
                .filter(|p| running.contains(p))
                .collect();
            if !stuck.is_empty() {
                return Some(format!(
                    "`hakit notify` {stuck:?} still running on {}",
                    n.name
                ));
            }
        }
    }
    None
}

/// ", N address moves" where EC2 says where the address is (aws-eip); nothing for the VIP,
/// which EC2 does not see.
fn moves_text(mode: Mode, moves: usize) -> String {
    match mode {
        Mode::AwsEip => format!(", {moves} address moves"),
        Mode::L2Vip => String::new(),
    }
}

/// How long the invariants must hold, sampled, before the cluster counts as settled: longer
/// than VRRP's master-down interval (3 adverts of 0.5 s plus the skew), so a state that is
/// about to change on its own is not taken for the settled one. (A master SIGKILLed and
/// restarted within that interval leaves its stale address in place until the new
/// keepalived removes it at start-up; the backup takes over only when its timer runs out.
/// A single sample between the two saw "one master" and was wrong a moment later.)
const STABLE: Duration = Duration::from_millis(2500);

/// Wait (at most 30 s) until `broken` finds nothing, with the same master, for `STABLE`.
/// Returns how long after the call the stable stretch began, or the last reason it was not.
fn settled(lab: &Lab, mode: Mode) -> Result<Duration, String> {
    let start = Instant::now();
    let mut stretch: Option<(Instant, usize)> = None;
    loop {
        if start.elapsed() > Duration::from_secs(30) {
            return Err(broken(lab, mode).unwrap_or_else(|| "the master keeps changing".into()));
        }
        match broken(lab, mode) {
            None => {
                let m = master(lab, mode);
                match stretch {
                    Some((since, held)) if Some(held) == m => {
                        if since.elapsed() >= STABLE {
                            return Ok(since - start);
                        }
                    }
                    _ => stretch = m.map(|m| (Instant::now(), m)),
                }
            }
            Some(_) => stretch = None,
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every failover-log line is one hakit writes, and the journal parses.
fn logs_and_journal_parse(lab: &Lab) -> Result<(), String> {
    for node in &lab.nodes {
        let log = std::fs::read_to_string(node.root.join("var/log/hakit/failover.log"))
            .unwrap_or_default();
        for line in log.lines() {
            let fields = line.contains(" cluster=lab ")
                && line.contains(&format!(" node={} ", node.name))
                && line.contains(" action=");
            if !fields {
                return Err(format!(
                    "{}: a failover log line hakit did not write: {line}",
                    node.name
                ));
            }
        }
        let journal = node.root.join("var/lib/hakit/journal.json");
        let text =
            std::fs::read_to_string(&journal).map_err(|e| format!("{}: {e}", journal.display()))?;
        serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| format!("{}: {e}", journal.display()))?;
    }
    Ok(())
}

#[test]
fn soak_aws_eip_pair_under_random_faults() {
    soak(Mode::AwsEip);
}

#[test]
fn soak_l2_vip_pair_under_random_faults() {
    soak(Mode::L2Vip);
}

fn soak(mode: Mode) {
    let seed = std::env::var("HAKIT_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    let rounds: usize = std::env::var("HAKIT_SOAK_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let lab_mode = match mode {
        Mode::AwsEip => "aws-eip",
        Mode::L2Vip => "l2-vip",
    };
    let Some(mut lab) = lab(&format!("s{lab_mode}"), lab_mode, "", 2) else {
        return;
    };
    let faults_here: Vec<Fault> = FAULTS
        .into_iter()
        .filter(|f| {
            mode == Mode::AwsEip
                || !matches!(
                    f,
                    Fault::NodeCutFromEc2
                        | Fault::Ec2Down
                        | Fault::Ec2Throttling
                        | Fault::Ec2Errors
                        | Fault::Ec2Slow
                )
        })
        // `HAKIT_SOAK_FAULTS=KeepalivedKilled,VrrpCut` narrows the nemesis (for a replay
        // that hammers one kind).
        .filter(|f| {
            std::env::var("HAKIT_SOAK_FAULTS")
                .map(|only| only.split(',').any(|o| o.trim() == format!("{f:?}")))
                .unwrap_or(true)
        })
        .collect();
    assert!(
        !faults_here.is_empty(),
        "HAKIT_SOAK_FAULTS names no fault of this mode"
    );
    eprintln!("figure: soak {lab_mode} seed {seed}, {rounds} faults (replay: HAKIT_SOAK_SEED={seed} HAKIT_SOAK_ROUNDS={rounds})");
    let mut rng = Rng(seed);
    let before: Vec<_> = lab.nodes.iter().map(|n| tree(&n.root)).collect();
    let nets_before: Vec<String> = lab.nodes.iter().map(|n| net_state(&n.ns)).collect();
    lab.setup(0, "master");
    lab.setup(1, "backup");
    lab.start_proxies();
    let mut events: Vec<Events> = lab.nodes.iter_mut().map(Events::open).collect();
    let mut killed = vec![0usize; lab.nodes.len()];
    lab.start_keepalived_n1_first(mode.marker(), Duration::from_secs(30));
    if mode == Mode::AwsEip {
        lab.wait_holder("n1", "the EIP on n1 after keepalived started");
    }

    // A client connecting through the address every 200 ms, for the whole soak.
    let stop = Arc::new(AtomicBool::new(false));
    let (tried, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let outage = Arc::new(Mutex::new(Outages::default()));
    let client = {
        let (stop, tried, failed, outage) =
            (stop.clone(), tried.clone(), failed.clone(), outage.clone());
        let client_ns = lab.client.0.clone();
        let (endpoint, allocation) = (lab.endpoint.clone(), lab.world.allocation_id.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(3600) {
                let ip = match mode {
                    Mode::AwsEip => crate::e2e::eip_private_ip(&endpoint, &allocation),
                    Mode::L2Vip => Some(VIP.to_string()),
                };
                let good = ip.is_some_and(|ip| crate::e2e::banner_from(&client_ns, &ip));
                tried.fetch_add(1, Ordering::Relaxed);
                let mut o = outage.lock().expect("lock");
                if good {
                    if let Some(since) = o.since.take() {
                        o.longest = o.longest.max(since.elapsed());
                        o.this_round = o.this_round.max(since.elapsed());
                    }
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    o.since.get_or_insert_with(Instant::now);
                }
                drop(o);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    let mut done: Vec<Round> = Vec::new();
    for round in 1..=rounds {
        let Some(m) = master(&lab, mode) else {
            panic!(
                "seed {seed}, round {round}: no single master before the fault\n{}",
                vrrp_picture(&lab, mode)
            );
        };
        let pick = |rng: &mut Rng| faults_here[rng.below(faults_here.len() as u64) as usize];
        let mut faults = vec![pick(&mut rng)];
        // One fault in four overlaps with a second one.
        if rng.below(4) == 0 {
            let second = pick(&mut rng);
            if !same_knob(second, faults[0]) {
                faults.push(second);
            }
        }
        let sampler = HolderSampler::start(&lab);
        let started = Instant::now();
        inject(&mut lab, &faults, m, &mut rng, &mut killed);
        let healed = started.elapsed();
        let settled = settled(&lab, mode);
        let history = sampler.stop();
        let settled = match settled {
            Ok(after) => after,
            Err(why) => panic!("seed {seed}, round {round}, faults {faults:?}: not settled 30 s after healing: {why}\nEC2's holders meanwhile: {history:?}\n{}", vrrp_picture(&lab, mode)),
        };
        let moves = history.len().saturating_sub(1);
        assert!(
            moves <= 2,
            "seed {seed}, round {round}, faults {faults:?}: the address changed hands {moves} times: {history:?}"
        );
        if let Err(why) = logs_and_journal_parse(&lab) {
            panic!("seed {seed}, round {round}: {why}");
        }
        if let Some(death) = keepalived_death(&lab) {
            panic!(
                "seed {seed}, round {round}, faults {faults:?}: a keepalived process died without the nemesis: {death}\n{}",
                vrrp_picture(&lab, mode)
            );
        }
        if let Err(why) = one_line_per_transition(&lab, &mut events, &killed) {
            panic!(
                "seed {seed}, round {round}, faults {faults:?}: {why}\n{}",
                vrrp_picture(&lab, mode)
            );
        }
        let outage = outage.lock().map(|mut o| o.end_round()).unwrap_or_default();
        eprintln!(
            "soak round {round}: {faults:?} on {}, healed after {:.1} s, settled {:.1} s later{}, longest client outage {:.1} s",
            lab.nodes[m].name,
            healed.as_secs_f64(),
            settled.as_secs_f64(),
            moves_text(mode, moves),
            outage.as_secs_f64()
        );
        done.push(Round {
            faults,
            settled,
            moves,
            outage,
        });
    }
    stop.store(true, Ordering::Relaxed);
    let _ = client.join();

    let mut by_kind: BTreeMap<Fault, (usize, Duration, usize, Duration)> = BTreeMap::new();
    for r in &done {
        for f in &r.faults {
            let e = by_kind.entry(*f).or_default();
            e.0 += 1;
            e.1 = e.1.max(r.settled);
            e.2 = e.2.max(r.moves);
            e.3 = e.3.max(r.outage);
        }
    }
    for (kind, (count, settled, moves, outage)) in &by_kind {
        eprintln!(
            "figure: soak {lab_mode} {kind:?}: {count} runs, settled within {:.1} s after healing (worst){}, longest client outage {:.1} s",
            settled.as_secs_f64(),
            moves_text(mode, *moves).replace(", ", ", at most "),
            outage.as_secs_f64()
        );
    }
    let longest = outage.lock().map(|o| o.longest).unwrap_or_default();
    eprintln!(
        "figure: soak {lab_mode} client through the address: {} of {} connects failed, longest outage {:.1} s",
        failed.load(Ordering::Relaxed),
        tried.load(Ordering::Relaxed),
        longest.as_secs_f64()
    );

    for node in &mut lab.nodes {
        node.stop_keepalived();
        node.kill_haproxy();
    }
    lab.rollback(1);
    lab.rollback(0);
    lab.assert_rolled_back(&before);
    // No interface, address, rule or route hakit did not make was touched, and nothing
    // hakit made is left (the hotplug helper takes the detached ENIs' interfaces away).
    for (node, net) in lab.nodes.iter().zip(&nets_before) {
        wait_until(
            "each node's network as before the soak",
            Duration::from_secs(15),
            || net_state(&node.ns) == *net,
        );
    }
}

/// The load nemesis, a benchmark (`bench/load.sh`; ignored in the suite): no fault, only
/// CPU and I/O load on the whole machine (`stress-ng`, every core) for
/// `HAKIT_LOAD_SECONDS` (60 by default), at the default advert interval and at 0.3 s and
/// 0.2 s. Counts spurious VRRP transitions (the backup becoming master) and address
/// moves, then measures node death (keepalived SIGKILLed on the master) at the same
/// interval: prints one row per interval to choose the default from. Asserts nothing
/// beyond the lab working.
#[test]
#[ignore = "benchmark: bench/load.sh"]
fn load_nemesis_benchmark() {
    if !crate::common::require_tool("stress-ng") {
        return;
    }
    let seconds: u64 = std::env::var("HAKIT_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    for advert in ["0.5", "0.3", "0.2"] {
        let extra = format!("advert_int = {advert}\n");
        let Some(mut lab) = lab("load", "aws-eip", &extra, 2) else {
            return;
        };
        lab.setup(0, "master");
        lab.setup(1, "backup");
        lab.start_proxies();
        lab.start_keepalived_n1_first(MARKER, Duration::from_secs(30));
        lab.wait_holder("n1", "the EIP on n1 after keepalived started");
        let (eni1, _) = lab.eni_of("n1");
        let sampler = HolderSampler::start(&lab);
        let mut stress = std::process::Command::new("stress-ng")
            .args(["--cpu", "0", "--io", "2", "--timeout"])
            .arg(format!("{seconds}s"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("stress-ng");
        let started = Instant::now();
        let mut backup_master_samples = 0usize;
        let mut transitions = 0usize;
        let mut was = false;
        while started.elapsed() < Duration::from_secs(seconds) {
            let now = lab.nodes[1].holds_marker(MARKER);
            if now && !was {
                transitions += 1;
            }
            backup_master_samples += usize::from(now);
            was = now;
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = stress.wait();
        let history = sampler.stop();
        let moves = history.len().saturating_sub(1);
        assert_eq!(history.first(), Some(&Some(eni1)), "sampling started on n1");
        // Settle, then node death at this interval.
        std::thread::sleep(Duration::from_secs(3));
        lab.wait_holder("n1", "the EIP back on n1 before the node death");
        lab.nodes[0].kill_keepalived();
        let took = lab.wait_holder("n2", "the EIP on n2 after n1's keepalived died");
        eprintln!(
            "figure: load nemesis, advert_int {advert} s: {transitions} spurious backup->master transitions, {moves} address moves in {seconds} s of stress-ng on every core ({backup_master_samples} samples with the backup master); node death -> EIP on n2 after {:.2} s",
            took.as_secs_f64()
        );
        for node in &mut lab.nodes {
            node.stop_keepalived();
            node.kill_haproxy();
        }
        lab.rollback(1);
        lab.rollback(0);
    }
}
