//! `hakit notify`: called by keepalived's notify script on every transition, and
//! periodically with `--reconcile`.

use crate::cli::{NotifyArgs, Output, Transition};
use crate::config::{self, Cluster, Mode};
use crate::exit::UsageError;
use crate::host::RealHost;
use crate::notify::{self, Action, Serializer, State};
use crate::role;
use hakit_cloud::{Cloud, Ec2Cloud};

fn cloud_for(cluster: &Cluster) -> anyhow::Result<Option<Ec2Cloud>> {
    match &cluster.mode {
        Mode::AwsEip(_) => Ok(Some(super::aws::ec2(cluster, None)?)),
        Mode::L2Vip(_) => Ok(None),
    }
}

pub fn run(args: NotifyArgs) -> anyhow::Result<()> {
    let cluster = config::load(&args.config.path)?;
    let node = args.node.clone().ok_or_else(|| {
        UsageError::with_hint(
            "--node is required",
            "the rendered notify script passes it; by hand: --node NAME or HAKIT_NODE",
        )
    })?;
    let host = RealHost;
    let node = role::this_node(&cluster, Some(&node), &host)?;
    // Every node's ENI must stay ready to serve (the backup's too): put back what drifted.
    if args.reconcile && matches!(cluster.mode, Mode::AwsEip(_)) {
        match notify::drift::repair_eni(&host, &cluster) {
            Ok(None) => {}
            Ok(Some(restored)) => {
                let line = notify::failover_log::drift_line(&cluster, &node, &restored);
                errln!("{line}");
                if let Err(e) = notify::failover_log::append(&cluster, &line) {
                    errln!("warning: {e:#}");
                }
            }
            Err(e) => errln!("warning: the ENI's interface configuration: {e:#}"),
        }
    }
    let state = match (args.state, args.reconcile) {
        (Some(Transition::Master), _) => State::Master,
        (Some(Transition::Backup), _) => State::Backup,
        (Some(Transition::Fault), _) => State::Fault,
        (Some(Transition::Stop), _) => State::Stop,
        (None, _) => {
            if !role::holds_master_address(&cluster, &host)? {
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
    // A reconcile with nothing to do, or one that leaves the address with another master
    // again (a VRRP split lasting minutes), is not logged; anything else is, and makes the
    // next split news again.
    let repeated = notify::reconcile_memory::repeated(
        &cluster.paths.state_dir,
        result.as_ref().ok(),
        args.reconcile,
    )
    .unwrap_or_else(|e| {
        errln!("warning: {e:#}");
        false
    });
    let quiet =
        repeated || (args.reconcile && matches!(&result, Ok(o) if o.action == Action::AlreadyOurs));
    if !quiet {
        let trigger = if args.reconcile {
            notify::failover_log::Trigger::Reconcile
        } else {
            notify::failover_log::Trigger::Transition
        };
        let line = notify::failover_log::line(&cluster, &node, trigger, &result);
        errln!("{line}");
        if let Err(e) = notify::failover_log::append(&cluster, &line) {
            errln!("warning: {e:#}");
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
                Err(e) => errln!("warning: {e:#}"),
            }
        }
    }
    if args.output.format == Output::Json {
        outln!("{}", serde_json::to_string(&outcome)?);
    }
    Ok(())
}
