//! `hakit notify`: called by keepalived's notify script on every transition, and
//! periodically with `--reconcile`.

use crate::cli::{NotifyArgs, Output, Transition};
use crate::config::{self, Cluster, Mode};
use crate::exit::UsageError;
use crate::notify::{self, Serializer, State};
use anyhow::Context;
use hakit_cloud::{Cloud, Ec2Cloud};

fn cloud_for(cluster: &Cluster) -> anyhow::Result<Option<Ec2Cloud>> {
    match &cluster.mode {
        Mode::AwsEip(_) => Ok(Some(super::aws::ec2(cluster, None)?)),
        Mode::L2Vip(_) => Ok(None),
    }
}

/// Whether keepalived made this node master: its marker (aws-eip) or the VIP (l2-vip) is up.
pub fn holds_master_address(cluster: &Cluster) -> anyhow::Result<bool> {
    let (dev, addr) = match &cluster.mode {
        Mode::AwsEip(_) => ("lo".to_string(), cluster.vrrp.marker_address()),
        Mode::L2Vip(vip) => (vip.interface.clone(), vip.address),
    };
    let out = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show", "dev", &dev])
        .output()
        .context("running `ip addr show`")?;
    let needle = format!(" {addr}/");
    Ok(String::from_utf8_lossy(&out.stdout).contains(&needle))
}

pub fn run(args: NotifyArgs) -> anyhow::Result<()> {
    let cluster = config::load(&args.config)?;
    let node = args.node.clone().ok_or_else(|| {
        UsageError::with_hint(
            "--node is required",
            "the rendered notify script passes it; by hand: --node NAME or HAKIT_NODE",
        )
    })?;
    if !cluster.nodes.iter().any(|n| n.name == node) {
        return Err(UsageError::new(format!(
            "--node {node}: no such node in {}",
            args.config.display()
        ))
        .into());
    }
    let state = match (args.state, args.reconcile) {
        (Some(Transition::Master), _) => State::Master,
        (Some(Transition::Backup), _) => State::Backup,
        (Some(Transition::Fault), _) => State::Fault,
        (Some(Transition::Stop), _) => State::Stop,
        (None, _) => {
            if !holds_master_address(&cluster)? {
                return Ok(());
            }
            State::Master
        }
    };
    let serializer = Serializer::new(&cluster.paths.state_dir)?;
    let ticket = serializer.enter()?;
    let result = cloud_for(&cluster).and_then(|cloud| {
        notify::transition(
            &cluster,
            &node,
            state,
            cloud.as_ref().map(|c| c as &dyn Cloud),
            &ticket,
            args.reconcile,
        )
    });
    let quiet = args.reconcile && matches!(&result, Ok(o) if o.action == "already-ours");
    if !quiet {
        let line = notify::log_line(&cluster, &node, &result);
        eprintln!("{line}");
        if let Err(e) = notify::append_failover_log(&cluster, &line) {
            eprintln!("warning: {e:#}");
        }
    }
    let outcome = result?;
    // The webhook is best effort: reported, never failing the transition.
    if !quiet {
        let secrets_path = cluster.paths.secrets_file();
        if secrets_path.exists() {
            match crate::secrets::Secrets::load(&secrets_path)
                .map_err(anyhow::Error::from)
                .and_then(|s| notify::webhook::send(&s, &cluster.name, &node, &outcome))
            {
                Ok(_) => {}
                Err(e) => eprintln!("warning: {e:#}"),
            }
        }
    }
    if args.output == Output::Json {
        println!("{}", serde_json::to_string(&outcome)?);
    }
    Ok(())
}
