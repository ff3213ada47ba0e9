//! What `hakit notify` does on a VRRP transition. On master (aws-eip mode) the Elastic IP
//! moves to this node's ENI; on backup, fault or stop nothing in EC2 is touched, so an
//! association held by another node is never disturbed. Transitions are serialized, and a
//! later one supersedes an earlier one still waiting.

mod serial;
pub mod webhook;

pub use serial::{Serializer, Ticket};

use crate::clock::utc_now;
use crate::config::{Cluster, Mode};
use anyhow::{bail, Context};
use hakit_cloud::{Cloud, Eni, TAG_STATE};
use serde::Serialize;
use std::io::Write;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Master,
    Backup,
    Fault,
    Stop,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Master => "master",
            State::Backup => "backup",
            State::Fault => "fault",
            State::Stop => "stop",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub state: &'static str,
    /// associated | already-ours | left-alone | superseded | logged
    pub action: &'static str,
    pub eni: Option<String>,
    pub holder: Option<String>,
    pub took_ms: u128,
}

/// This node's dedicated ENI, found by its tags.
pub fn own_eni(cloud: &dyn Cloud, cluster: &str, node: &str) -> anyhow::Result<Eni> {
    pick_own(&cloud.find_enis(cluster, Some(node))?, cluster, node)
}

/// The one ENI of `node` among `enis` (the attached one if a half-done setup left several).
fn pick_own(enis: &[Eni], cluster: &str, node: &str) -> anyhow::Result<Eni> {
    let mine: Vec<&Eni> = enis
        .iter()
        .filter(|e| e.node.as_deref() == Some(node))
        .collect();
    let attached: Vec<&Eni> = mine
        .iter()
        .copied()
        .filter(|e| e.attachment.is_some())
        .collect();
    match (mine.as_slice(), attached.as_slice()) {
        ([], _) => bail!("no hakit ENI tagged hakit:cluster={cluster}, hakit:node={node}: run `hakit setup` on this node first"),
        ([one], _) | (_, [one]) => Ok((*one).clone()),
        _ => bail!(
            "{} ENIs are tagged for node {node} ({}): run `hakit rollback` and `hakit setup` on this node",
            mine.len(),
            mine.iter().map(|e| e.id.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Handle one transition. `ticket` says whether a later transition has superseded this
/// one. With `reconcile`, a master leaves the address with another node that also reports
/// itself master (a VRRP split brain), so the address changes hands at most once; once
/// that node reports backup, the next reconcile takes it back.
pub fn transition(
    cluster: &Cluster,
    node: &str,
    state: State,
    cloud: Option<&dyn Cloud>,
    ticket: &Ticket,
    reconcile: bool,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let outcome = |action, eni: Option<String>, holder: Option<String>| Outcome {
        state: state.as_str(),
        action,
        eni,
        holder,
        took_ms: started.elapsed().as_millis(),
    };
    let Mode::AwsEip(aws) = &cluster.mode else {
        // keepalived itself moves the VIP in l2-vip mode.
        return Ok(outcome("logged", None, None));
    };
    if ticket.superseded()? {
        return Ok(outcome("superseded", None, None));
    }
    let cloud = cloud.context("aws-eip mode needs EC2 access")?;
    let enis = cloud.find_enis(&cluster.name, None)?;
    let eni = pick_own(&enis, &cluster.name, node)?;
    // Every node reports its VRRP state on its own ENI; reconcile on the master reads it.
    let report = |eni: &Eni| cloud.tag_eni(&eni.id, TAG_STATE, state.as_str());
    if state != State::Master {
        report(&eni)?;
        return Ok(outcome("left-alone", Some(eni.id), None));
    }
    let before = cloud.address(&aws.eip_allocation_id)?;
    let holder = before.network_interface_id.clone();
    if holder.as_deref() == Some(eni.id.as_str()) {
        if eni.state.as_deref() != Some("master") {
            report(&eni)?;
        }
        return Ok(outcome("already-ours", Some(eni.id), holder));
    }
    if reconcile {
        let other_master = enis.iter().find(|e| {
            Some(e.id.as_str()) == holder.as_deref() && e.state.as_deref() == Some("master")
        });
        if let Some(other) = other_master {
            let who = other.node.clone().unwrap_or_else(|| other.id.clone());
            return Ok(outcome("held-by-another-master", Some(eni.id), Some(who)));
        }
    }
    if ticket.superseded()? {
        return Ok(outcome("superseded", Some(eni.id), holder));
    }
    let after = cloud.associate_eip(&aws.eip_allocation_id, &eni.id)?;
    report(&eni)?;
    Ok(outcome(
        "associated",
        Some(eni.id),
        after.network_interface_id,
    ))
}

/// One line per transition, to stderr (the journal under systemd) and the failover log.
pub fn log_line(cluster: &Cluster, node: &str, result: &anyhow::Result<Outcome>) -> String {
    let eip = match &cluster.mode {
        Mode::AwsEip(aws) => aws.eip_allocation_id.clone(),
        Mode::L2Vip(vip) => format!("{}/{}", vip.address, vip.prefix),
    };
    match result {
        Ok(o) => format!(
            "{} cluster={} node={node} state={} action={} address={eip} eni={} holder={} took_ms={}",
            utc_now(),
            cluster.name,
            o.state,
            o.action,
            o.eni.as_deref().unwrap_or("-"),
            o.holder.as_deref().unwrap_or("-"),
            o.took_ms
        ),
        Err(e) => format!("{} cluster={} node={node} action=error address={eip} error={:?}", utc_now(), cluster.name, format!("{e:#}")),
    }
}

pub fn append_failover_log(cluster: &Cluster, line: &str) -> anyhow::Result<()> {
    let dir = &cluster.paths.log_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("failover.log");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(file, "{line}").with_context(|| format!("appending to {}", path.display()))
}

/// The last line of the failover log, if any (for `hakit status`).
pub fn last_failover(cluster: &Cluster) -> Option<String> {
    let text = std::fs::read_to_string(cluster.paths.log_dir.join("failover.log")).ok()?;
    text.lines().last().map(str::to_string)
}
