//! The failover log (`<log_dir>/failover.log`): one line per transition `hakit notify`
//! handled, written here and read back here (`hakit status`: the last transition, and the
//! state a node last reported).

use super::Outcome;
use crate::clock::utc_now;
use crate::config::{Cluster, Mode};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

pub fn path(cluster: &Cluster) -> PathBuf {
    cluster.paths.log_dir.join("failover.log")
}

/// What ran `hakit notify`: keepalived on a VRRP transition (`notify.sh STATE`), or the
/// periodic reconcile (`--reconcile`), which logs only when it did something. The field
/// `trigger=` tells them apart, so a reader can count transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Transition,
    Reconcile,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Transition => "transition",
            Trigger::Reconcile => "reconcile",
        }
    }
}

/// One line per transition (and per reconcile that acted), to stderr (the journal under
/// systemd) and the failover log.
pub fn line(
    cluster: &Cluster,
    node: &str,
    trigger: Trigger,
    result: &anyhow::Result<Outcome>,
) -> String {
    let trigger = trigger.as_str();
    let eip = match &cluster.mode {
        Mode::AwsEip(aws) => aws.eip_allocation_id.clone(),
        Mode::L2Vip(vip) => format!("{}/{}", vip.address, vip.prefix),
    };
    match result {
        Ok(o) => format!(
            "{} cluster={} node={node} state={} action={} trigger={trigger} address={eip} eni={} holder={} took_ms={}",
            utc_now(),
            cluster.name,
            o.state,
            o.action.as_str(),
            o.eni.as_deref().unwrap_or("-"),
            o.holder.as_deref().unwrap_or("-"),
            o.took_ms
        ),
        Err(e) => format!("{} cluster={} node={node} action=error trigger={trigger} address={eip} error={:?}", utc_now(), cluster.name, format!("{e:#}")),
    }
}

/// The line for configuration `hakit notify --reconcile` found missing and put back.
pub fn drift_line(cluster: &Cluster, node: &str, restored: &str) -> String {
    format!(
        "{} cluster={} node={node} action={DRIFT} trigger={} restored={restored:?}",
        utc_now(),
        cluster.name,
        Trigger::Reconcile.as_str()
    )
}

/// The action of a drift line: not a transition, skipped where transitions are read.
const DRIFT: &str = "drift-repaired";

pub fn append(cluster: &Cluster, line: &str) -> anyhow::Result<()> {
    let dir = &cluster.paths.log_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = path(cluster);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(file, "{line}").with_context(|| format!("appending to {}", path.display()))
}

/// The last transition in the failover log, if any (for `hakit status`).
pub fn last(cluster: &Cluster) -> Option<String> {
    let text = std::fs::read_to_string(path(cluster)).ok()?;
    last_transition(&text).map(str::to_string)
}

fn last_transition(text: &str) -> Option<&str> {
    let drift = format!(" action={DRIFT} ");
    text.lines().rev().find(|l| !l.contains(&drift))
}

/// The state `node` last reported, from the log's `node=NAME state=STATE` fields.
pub fn last_state(cluster: &Cluster, node: &str) -> Option<String> {
    let text = std::fs::read_to_string(path(cluster)).ok()?;
    state_in(&text, node)
}

fn state_in(text: &str, node: &str) -> Option<String> {
    let needle = format!(" node={node} state=");
    text.lines().rev().find_map(|l| {
        l.split_once(&needle)
            .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Action;

    #[test]
    fn a_line_written_reads_back_as_the_state_it_reports() {
        let cluster = crate::config::parse(
            "name = \"demo\"\nmode = \"l2-vip\"\nprofile = \"haproxy\"\n[[node]]\nname = \"n1\"\naddress = \"192.0.2.11\"\n[[node]]\nname = \"n2\"\naddress = \"192.0.2.12\"\n[[backend]]\naddress = \"192.0.2.21:3306\"\n[vip]\naddress = \"192.0.2.100/24\"\ninterface = \"eth0\"\n[vrrp]\nvirtual_router_id = 51\n",
        )
        .expect("cluster");
        let outcome = |state| Outcome {
            state,
            action: Action::Logged,
            eni: None,
            holder: None,
            took_ms: 3,
        };
        let text = [
            line(&cluster, "n1", Trigger::Transition, &Ok(outcome("master"))),
            line(&cluster, "n2", Trigger::Transition, &Ok(outcome("backup"))),
            line(&cluster, "n1", Trigger::Transition, &Ok(outcome("fault"))),
            line(&cluster, "n1", Trigger::Reconcile, &Ok(outcome("master"))),
            line(
                &cluster,
                "n2",
                Trigger::Transition,
                &Err(anyhow::anyhow!("EC2 said no")),
            ),
            drift_line(
                &cluster,
                "n1",
                "the policy rule from 192.0.2.100 lookup 10001 on ens6",
            ),
        ]
        .join("\n");
        assert_eq!(state_in(&text, "n1").as_deref(), Some("master"));
        assert_eq!(state_in(&text, "n2").as_deref(), Some("backup"));
        assert_eq!(state_in(&text, "n3"), None);
        // A drift line is not a transition: the last one is n2's error.
        let last = last_transition(&text).expect("a transition");
        assert!(
            last.contains("node=n2 action=error trigger=transition "),
            "{last}"
        );
        // Each line says what ran it.
        let triggers: Vec<&str> = text
            .lines()
            .map(|l| {
                l.split_once(" trigger=")
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .unwrap_or("")
            })
            .collect();
        assert_eq!(
            triggers,
            [
                "transition",
                "transition",
                "transition",
                "reconcile",
                "transition",
                "reconcile"
            ]
        );
    }
}
