//! What `hakit notify` does on a VRRP transition. On master (aws-eip mode) the Elastic IP
//! moves to this node's ENI; on backup, fault or stop nothing in EC2 is touched, so an
//! association held by another node is never disturbed. Transitions are serialized, and a
//! later one supersedes an earlier one still waiting.

pub mod drift;
pub mod failover_log;
pub mod reconcile_memory;
mod serial;
pub mod webhook;

pub use serial::{Serializer, Ticket};

use crate::config::{Cluster, Mode};
use anyhow::Context;
use hakit_cloud::{pick_own_eni, state_tag, Cloud, Eni, TAG_STATE};
use serde::Serialize;
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

/// What a transition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The Elastic IP moved to this node's ENI.
    Associated,
    /// It was on this node's ENI already.
    AlreadyOurs,
    /// Not master: nothing in EC2 touched but this node's state tag.
    LeftAlone,
    /// A later transition came first.
    Superseded,
    /// l2-vip: keepalived moves the VIP itself; the transition is only logged.
    Logged,
    /// Reconcile left the address with another node that also reports master.
    HeldByAnotherMaster,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Associated => "associated",
            Action::AlreadyOurs => "already-ours",
            Action::LeftAlone => "left-alone",
            Action::Superseded => "superseded",
            Action::Logged => "logged",
            Action::HeldByAnotherMaster => "held-by-another-master",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub state: &'static str,
    pub action: Action,
    pub eni: Option<String>,
    pub holder: Option<String>,
    pub took_ms: u128,
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
        return Ok(outcome(Action::Logged, None, None));
    };
    if ticket.superseded()? {
        return Ok(outcome(Action::Superseded, None, None));
    }
    let cloud = cloud.context("aws-eip mode needs EC2 access")?;
    // The address before the nodes' reports: a master reports itself before it takes the
    // address, so whoever holds it now has already said so in what is read next.
    let before = if state == State::Master {
        Some(cloud.address(&aws.eip_allocation_id)?)
    } else {
        None
    };
    let enis = cloud.find_enis(&cluster.name, None)?;
    let eni = pick_own_eni(&enis, &cluster.name, node)?;
    // Every node reports its VRRP state, and when, on its own ENI; reconcile on the
    // master reads it, and refreshes its own report so it never goes stale.
    let now = unix_now();
    let report = |eni: &Eni| cloud.tag_eni(&eni.id, TAG_STATE, &state_tag(state.as_str(), now));
    let Some(before) = before else {
        report(&eni)?;
        return Ok(outcome(Action::LeftAlone, Some(eni.id), None));
    };
    let holder = before.network_interface_id.clone();
    let interval = u64::from(aws.reconcile_interval);
    if holder.as_deref() == Some(eni.id.as_str()) {
        let reported_at = eni.state_at.unwrap_or(0);
        if eni.state.as_deref() != Some("master") || now.saturating_sub(reported_at) >= interval {
            report(&eni)?;
        }
        return Ok(outcome(Action::AlreadyOurs, Some(eni.id), holder));
    }
    if reconcile {
        // Another node's master report counts while it is fresh: a live master refreshes
        // it every reconcile. A dead node never clears its report; once stale, the
        // address is taken from it. (A report without a time, from hakit 0.1.0, counts.)
        let fresh = |e: &Eni| {
            e.state_at
                .is_none_or(|at| now.saturating_sub(at) <= stale_after(interval))
        };
        let other_master = enis.iter().find(|e| {
            Some(e.id.as_str()) == holder.as_deref()
                && e.state.as_deref() == Some("master")
                && fresh(e)
        });
        if let Some(other) = other_master {
            let who = other.node.clone().unwrap_or_else(|| other.id.clone());
            return Ok(outcome(
                Action::HeldByAnotherMaster,
                Some(eni.id),
                Some(who),
            ));
        }
    }
    if ticket.superseded()? {
        return Ok(outcome(Action::Superseded, Some(eni.id), holder));
    }
    // Reported first: a reconcile that sees this ENI holding the address must also see
    // it reported master, or it would take the address back.
    report(&eni)?;
    let after = cloud.associate_eip(&aws.eip_allocation_id, &eni.id)?;
    Ok(outcome(
        Action::Associated,
        Some(eni.id),
        after.network_interface_id,
    ))
}

/// How old another node's master report may be and still count: three reconcile
/// intervals (a live master refreshes it every interval), and at least 15 s for clock skew.
pub fn stale_after(reconcile_interval: u64) -> u64 {
    (3 * reconcile_interval).max(15)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
