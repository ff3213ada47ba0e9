//! `hakit status`: this node's VRRP state, who holds the address, the ENI, proxy health and
//! the last failover. Read-only.

use crate::cli::{Output, StatusArgs};
use crate::config::{self, Mode, ModeKind};
use crate::exit::Degraded;
use crate::host::RealHost;
use crate::{profile, role};
use hakit_cloud::Cloud;
use serde::Serialize;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub cluster: String,
    pub node: String,
    pub mode: ModeKind,
    /// master when keepalived has put the marker (aws-eip) or the VIP (l2-vip) on this host.
    pub vrrp_state: &'static str,
    /// The last state `hakit notify` recorded for this node.
    pub last_notified_state: Option<String>,
    pub address: AddressStatus,
    pub proxy: ProxyStatus,
    pub last_failover: Option<String>,
    pub hook: HookStatus,
}

/// Whether keepalived's notify script can run the hakit binary it names.
#[derive(Debug, Serialize)]
pub struct HookStatus {
    pub script: std::path::PathBuf,
    /// The binary the installed script runs.
    pub binary: Option<std::path::PathBuf>,
    /// Why a transition would fail, with the fix.
    pub problem: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AddressStatus {
    /// The Elastic IP allocation or the VIP.
    pub address: String,
    /// Node holding it, when known.
    pub holder: Option<String>,
    pub eni: Option<String>,
    pub eni_attachment: Option<String>,
    /// What of this node's ENI configuration (address, policy rule, route) is missing on
    /// the host; `hakit notify --reconcile` puts it back.
    pub eni_drift: Option<String>,
    pub error: Option<String>,
}

/// A whole MySQL login to the local proxy's client port as ProxySQL's monitor user: a
/// hung proxy never greets, one that cannot authenticate refuses. Exit 4 (degraded, a
/// failed check) when it does not complete within 1 s.
fn login_check(config_path: &Path) -> anyhow::Result<()> {
    let cluster = config::load(config_path)?;
    let base = config_path.parent().unwrap_or(Path::new("."));
    let profile = profile::load(&cluster.profile, base)?;
    let port = cluster.proxy.port.unwrap_or(profile.port);
    let secrets = crate::secrets::Secrets::load(&cluster.paths.secrets_file())?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match crate::host::mysql_wire::Conn::connect(
        addr,
        crate::config::proxysql::MONITOR_USER,
        secrets.proxy_monitor_password.expose(),
        Duration::from_secs(1),
    ) {
        Ok(_) => Ok(()),
        Err(e) => Err(Degraded(format!("no login to {} on {addr}: {e:#}", profile.service)).into()),
    }
}

#[derive(Debug, Serialize)]
pub struct ProxyStatus {
    pub service: String,
    pub port: u16,
    pub accepting: bool,
}

pub fn run(args: StatusArgs) -> anyhow::Result<()> {
    if args.login_check {
        return login_check(&args.config.path);
    }
    let cluster = config::load(&args.config.path)?;
    let node = role::this_node(&cluster, args.node.as_deref(), &RealHost)?;
    let base = args.config.path.parent().unwrap_or(Path::new("."));
    let profile = profile::load(&cluster.profile, base)?;
    let port = cluster.proxy.port.unwrap_or(profile.port);
    let accepting = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_ok();
    let master = role::holds_master_address(&cluster, &RealHost).unwrap_or(false);
    let address = match &cluster.mode {
        Mode::L2Vip(vip) => AddressStatus {
            address: format!("{}/{}", vip.address, vip.prefix),
            holder: master.then(|| node.clone()),
            eni: None,
            eni_attachment: None,
            eni_drift: None,
            error: None,
        },
        Mode::AwsEip(aws) => {
            let mut status = AddressStatus {
                address: aws.eip_allocation_id.clone(),
                holder: None,
                eni: None,
                eni_attachment: None,
                eni_drift: crate::notify::drift::check_eni(&RealHost, &cluster)
                    .ok()
                    .flatten()
                    .filter(|d| !d.missing.is_empty())
                    .map(|d| d.describe()),
                error: None,
            };
            let result = (|| -> anyhow::Result<()> {
                let cloud = super::aws::ec2(&cluster, None)?;
                let enis = cloud.find_enis(&cluster.name, None)?;
                let own = enis
                    .iter()
                    .find(|e| e.node.as_deref() == Some(node.as_str()));
                status.eni = own.map(|e| e.id.clone());
                status.eni_attachment = own
                    .and_then(|e| e.attachment.as_ref())
                    .map(|a| a.status.clone());
                if let Some(eni) = cloud.address(&aws.eip_allocation_id)?.network_interface_id {
                    let holder = enis
                        .iter()
                        .find(|e| e.id == eni)
                        .and_then(|e| e.node.clone());
                    status.holder = Some(
                        holder
                            .unwrap_or_else(|| format!("{eni} (not a hakit ENI of this cluster)")),
                    );
                }
                Ok(())
            })();
            if let Err(e) = result {
                status.error = Some(format!("{e:#}"));
            }
            status
        }
    };
    let status = NodeStatus {
        cluster: cluster.name.clone(),
        node: node.clone(),
        mode: cluster.mode.kind(),
        vrrp_state: if master { "master" } else { "not-master" },
        last_notified_state: crate::notify::failover_log::last_state(&cluster, &node),
        address,
        proxy: ProxyStatus {
            service: profile.service.clone(),
            port,
            accepting,
        },
        last_failover: crate::notify::failover_log::last(&cluster),
        hook: hook_status(&cluster),
    };
    match args.output.format {
        Output::Json => outln!("{}", serde_json::to_string_pretty(&status)?),
        Output::Text => {
            outln!(
                "cluster {} node {} ({})",
                status.cluster,
                status.node,
                status.mode
            );
            outln!(
                "  vrrp: {} (last notified: {})",
                status.vrrp_state,
                status.last_notified_state.as_deref().unwrap_or("none")
            );
            let a = &status.address;
            outln!(
                "  address {}: held by {}",
                a.address,
                a.holder.as_deref().unwrap_or("nobody")
            );
            if let Some(eni) = &a.eni {
                outln!(
                    "  eni: {eni} ({})",
                    a.eni_attachment.as_deref().unwrap_or("not attached")
                );
            }
            if let Some(drift) = &a.eni_drift {
                outln!("  eni: MISSING {drift} (the next reconcile puts it back)");
            }
            if let Some(e) = &a.error {
                outln!("  error: {e}");
            }
            outln!(
                "  proxy {} on :{}: {}",
                status.proxy.service,
                status.proxy.port,
                if status.proxy.accepting {
                    "accepting connections"
                } else {
                    "NOT accepting connections"
                }
            );
            match (&status.hook.binary, &status.hook.problem) {
                (_, Some(problem)) => outln!("  failover hook: BROKEN: {problem}"),
                (Some(bin), None) => outln!("  failover hook: runs {}", bin.display()),
                (None, None) => {}
            }
            outln!(
                "  last failover: {}",
                status.last_failover.as_deref().unwrap_or("none recorded")
            );
        }
    }
    // What this node can tell: its proxy, and in aws-eip mode whether anyone holds the
    // Elastic IP (an l2-vip backup cannot see the VIP on its peer).
    let mut problems = Vec::new();
    if !status.proxy.accepting {
        problems.push(format!(
            "{} is not accepting connections on :{}",
            status.proxy.service, status.proxy.port
        ));
    }
    if let Some(drift) = &status.address.eni_drift {
        problems.push(format!("missing {drift}"));
    }
    if let Some(problem) = &status.hook.problem {
        problems.push(problem.clone());
    }
    if let Some(error) = &status.address.error {
        problems.push(format!("the address's state is unknown: {error}"));
    } else if matches!(cluster.mode, Mode::AwsEip(_)) && status.address.holder.is_none() {
        problems.push(format!("nobody holds {}", status.address.address));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Degraded(problems.join("; ")).into())
    }
}

fn hook_status(cluster: &config::Cluster) -> HookStatus {
    let script = cluster.paths.script_dir.join("notify.sh");
    let text = match std::fs::read_to_string(&script) {
        Ok(text) => text,
        Err(e) => {
            return HookStatus {
                problem: Some(format!(
                    "the failover hook {} cannot be read ({e}): keepalived's transitions run nothing; run `hakit setup`",
                    script.display()
                )),
                script,
                binary: None,
            }
        }
    };
    let binary = crate::hook::binary_in(&text);
    let problem = match &binary {
        Some(bin) => crate::hook::problem(&RealHost, bin),
        None => Some(format!(
            "the failover hook {} runs no `hakit notify`: it was edited; run `hakit setup` to put it back",
            script.display()
        )),
    };
    HookStatus {
        script,
        binary,
        problem,
    }
}
