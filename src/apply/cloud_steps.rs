//! The AWS steps of setup: the node's dedicated ENI (created, tagged, attached, configured
//! in the OS) and, on the master, the Elastic IP. Each records its undo before acting; the
//! ENI create records it before the id is known, so a crash right after the create is
//! undone by finding the ENI by its tags.

use super::{eni_persist, ApplyInput, StepResult};
use crate::config::{Aws, Cluster, Mode};
use crate::host::{interface::InterfaceConfig, Host};
use crate::journal::{NodeJournal, Status, Undo};
use crate::render::eni_persist::EniPersist;
use anyhow::{bail, Context};
use hakit_cloud::{Cloud, NewEni, NodeFacts};
use std::path::Path;

/// What the AWS steps need: EC2, this instance's facts (IMDS), the cluster and its AWS
/// settings, and the user's template overrides (for the ENI's networkd unit).
pub struct AwsStep<'a> {
    pub cloud: &'a dyn Cloud,
    pub facts: &'a NodeFacts,
    pub cluster: &'a Cluster,
    pub settings: &'a Aws,
    pub templates: Option<&'a Path>,
}

impl<'a> AwsStep<'a> {
    pub fn of(input: &'a ApplyInput<'_>) -> anyhow::Result<Self> {
        let Mode::AwsEip(settings) = &input.cluster.mode else {
            bail!("ENIs and the Elastic IP are only used in aws-eip mode")
        };
        match (input.cloud, input.facts) {
            (Some(cloud), Some(facts)) => Ok(AwsStep {
                cloud,
                facts,
                cluster: input.cluster,
                settings,
                templates: input.templates,
            }),
            _ => bail!("this step needs EC2 access and the instance's metadata (pass --skip-cloud to leave the AWS steps out)"),
        }
    }
}

pub fn create_eni(
    host: &dyn Host,
    journal: &mut NodeJournal,
    s: &AwsStep<'_>,
    node: &str,
) -> StepResult {
    let existing = s.cloud.find_enis(&s.cluster.name, Some(node))?;
    let pending = journal
        .entries
        .iter()
        .position(|e| matches!(&e.undo, Undo::DeleteEni { node: n, .. } if n == node));
    if let Some(eni) = existing.first() {
        // Ours by its tags: make sure rollback knows its id.
        let undo = Undo::DeleteEni {
            cluster: s.cluster.name.clone(),
            node: node.to_string(),
            eni_id: Some(eni.id.clone()),
        };
        match pending {
            Some(i) => {
                journal.entries[i].undo = undo;
                journal.done(host, i)?;
            }
            None => journal.record_done(host, undo)?,
        }
        return Ok((Status::AlreadyDone, Some(eni.id.clone())));
    }
    let index = match pending {
        Some(i) => i,
        None => journal.intend(
            host,
            Undo::DeleteEni {
                cluster: s.cluster.name.clone(),
                node: node.to_string(),
                eni_id: None,
            },
        )?,
    };
    let groups = if s.settings.security_group_ids.is_empty() {
        s.facts.security_group_ids.clone()
    } else {
        s.settings.security_group_ids.clone()
    };
    let token: String = format!("hakit-{}-{}-{}", s.cluster.name, node, journal.meta.run)
        .chars()
        .take(64)
        .collect();
    let eni = s.cloud.create_eni(&NewEni {
        cluster: s.cluster.name.clone(),
        node: node.to_string(),
        run: journal.meta.run.clone(),
        subnet_id: s.facts.subnet_id.clone(),
        security_group_ids: groups,
        client_token: token,
    })?;
    journal.entries[index].undo = Undo::DeleteEni {
        cluster: s.cluster.name.clone(),
        node: node.to_string(),
        eni_id: Some(eni.id.clone()),
    };
    journal.done(host, index)?;
    Ok((Status::Applied, Some(eni.id)))
}

pub fn attach_eni(
    host: &dyn Host,
    journal: &mut NodeJournal,
    s: &AwsStep<'_>,
    node: &str,
) -> StepResult {
    let eni = s.cloud.own_eni(&s.cluster.name, node)?;
    let attached_here = eni.attachment.as_ref().is_some_and(|a| {
        a.instance_id.as_deref() == Some(s.facts.instance_id.as_str()) && a.status == "attached"
    });
    if attached_here {
        return Ok((Status::AlreadyDone, None));
    }
    if let Some(a) = eni.attachment.as_ref().filter(|a| a.status == "attached") {
        bail!(
            "ENI {} is attached to {} , not to this instance {}: is --node right?",
            eni.id,
            a.instance_id.as_deref().unwrap_or("another instance"),
            s.facts.instance_id
        );
    }
    let index = journal.intend(
        host,
        Undo::DetachEni {
            eni_id: eni.id.clone(),
        },
    )?;
    let attachment = s.cloud.attach_eni(&eni.id, &s.facts.instance_id)?;
    if !s.settings.source_dest_check {
        s.cloud.set_source_dest_check(&eni.id, false)?;
    }
    journal.done(host, index)?;
    Ok((
        Status::Applied,
        Some(format!(
            "{} at device index {}",
            eni.id,
            attachment.device_index.unwrap_or(-1)
        )),
    ))
}

pub fn configure_eni(
    host: &dyn Host,
    journal: &mut NodeJournal,
    s: &AwsStep<'_>,
    node: &str,
    persist: EniPersist,
) -> StepResult {
    let eni = s.cloud.own_eni(&s.cluster.name, node)?;
    let mac = eni
        .mac
        .clone()
        .with_context(|| format!("EC2 reports no MAC address for {}", eni.id))?;
    let address = eni
        .private_ip
        .clone()
        .with_context(|| format!("EC2 reports no private address for {}", eni.id))?;
    let device_index = eni
        .attachment
        .as_ref()
        .and_then(|a| a.device_index)
        .unwrap_or(1);
    // The interface appears shortly after the attach (udev hotplug): wait for it, bounded.
    let mut found = host.interface_by_mac(&mac)?;
    for _ in 0..150 {
        if found.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        found = host.interface_by_mac(&mac)?;
    }
    let interface = found.with_context(|| {
        format!("no network interface with MAC {mac} (ENI {}) appeared on this host within 15 s; check `ip link` and that the ENI is attached to this instance", eni.id)
    })?;
    let config = InterfaceConfig::new(
        &interface,
        &mac,
        &address,
        &s.facts.subnet_cidr,
        device_index,
    )?;
    let undo = Undo::UnconfigureInterface {
        interface: interface.clone(),
        address: address.clone(),
        prefix: config.prefix,
        table: config.table,
    };
    let recorded = journal.entries.iter().any(|e| e.undo == undo);
    let index = if recorded {
        None
    } else {
        Some(journal.intend(host, undo)?)
    };
    config.bring_up(host)?;
    if let Some(index) = index {
        journal.done(host, index)?;
    }
    let kept = eni_persist::keep(host, journal, s, node, &config, persist)?;
    Ok((
        if recorded {
            Status::AlreadyDone
        } else {
            Status::Applied
        },
        Some(format!(
            "{interface} {address}/{} table {}, kept in {kept}",
            config.prefix, config.table
        )),
    ))
}

pub fn associate_eip(
    host: &dyn Host,
    journal: &mut NodeJournal,
    s: &AwsStep<'_>,
    node: &str,
    allocation_id: &str,
) -> StepResult {
    let eni = s.cloud.own_eni(&s.cluster.name, node)?;
    let address = s.cloud.address(allocation_id)?;
    if address.network_interface_id.as_deref() == Some(eni.id.as_str()) {
        return Ok((Status::AlreadyDone, None));
    }
    let undo = Undo::DisassociateEip {
        allocation_id: allocation_id.to_string(),
        eni_id: eni.id.clone(),
    };
    let index = journal.intend(host, undo)?;
    let after = s.cloud.associate_eip(allocation_id, &eni.id)?;
    journal.done(host, index)?;
    Ok((
        Status::Applied,
        after.public_ip.map(|ip| format!("{ip} on {}", eni.id)),
    ))
}
