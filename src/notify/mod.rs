//! What `hakit notify` does on a VRRP transition. On master (aws-eip mode) the Elastic IP
//! moves to this node's ENI; on backup, fault or stop nothing in EC2 is touched, so an
//! association held by another node is never disturbed. Transitions are serialized, and a
//! later one supersedes an earlier one still waiting.

mod serial;

pub use serial::{Serializer, Ticket};

use crate::clock::utc_now;
use crate::config::{Cluster, Mode};
use anyhow::{bail, Context};
use hakit_cloud::{Cloud, Eni};
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
    let mut enis = cloud.find_enis(cluster, Some(node))?;
    match enis.len() {
        0 => bail!("no hakit ENI tagged hakit:cluster={cluster}, hakit:node={node}: run `hakit setup` on this node first"),
        1 => Ok(enis.remove(0)),
        _ => {
            // Prefer the attached one; several attached means a half-done setup.
            let attached: Vec<Eni> = enis.iter().filter(|e| e.attachment.is_some()).cloned().collect();
            if attached.len() == 1 {
                Ok(attached.into_iter().next().context("attached ENI")?)
            } else {
                bail!(
                    "{} ENIs are tagged for node {node} ({}): run `hakit rollback` and `hakit setup` on this node",
                    enis.len(),
                    enis.iter().map(|e| e.id.as_str()).collect::<Vec<_>>().join(", ")
                )
            }
        }
    }
}

/// Handle one transition. `ticket` says whether a later transition has superseded this one.
pub fn transition(
    cluster: &Cluster,
    node: &str,
    state: State,
    cloud: Option<&dyn Cloud>,
    ticket: &Ticket,
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
    if state != State::Master {
        return Ok(outcome("left-alone", None, None));
    }
    if ticket.superseded()? {
        return Ok(outcome("superseded", None, None));
    }
    let cloud = cloud.context("aws-eip mode needs EC2 access")?;
    let eni = own_eni(cloud, &cluster.name, node)?;
    let before = cloud.address(&aws.eip_allocation_id)?;
    if before.network_interface_id.as_deref() == Some(eni.id.as_str()) {
        return Ok(outcome(
            "already-ours",
            Some(eni.id),
            before.network_interface_id,
        ));
    }
    if ticket.superseded()? {
        return Ok(outcome(
            "superseded",
            Some(eni.id),
            before.network_interface_id,
        ));
    }
    let after = cloud.associate_eip(&aws.eip_allocation_id, &eni.id)?;
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
