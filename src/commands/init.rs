//! `hakit init`: write a cluster file and a root-only secrets file. On a terminal a wizard
//! asks for what the flags left out; otherwise every missing value is listed in one error.

use crate::cli::InitArgs;
use crate::config::file::{AwsFile, BackendFile, ClusterFile, NodeFile, VipFile, VrrpFile};
use crate::config::{self, ConfigError};
use crate::exit::UsageError;
use crate::profile;
use crate::prompt::Prompting;
use crate::secrets::Secrets;
use anyhow::Context;
use std::path::{Path, PathBuf};

pub fn run(mut args: InitArgs, prompting: Prompting) -> anyhow::Result<()> {
    if args.out.exists() && !args.force {
        return Err(UsageError::with_hint(
            format!("{} already exists", args.out.display()),
            "pass --force to replace it, or --out to write elsewhere",
        )
        .into());
    }
    if prompting.interactive {
        wizard(&mut args)?;
    }
    let file = cluster_file(&args)?;
    let text = format!(
        "# hakit cluster file: the same on every node. Secrets live in the separate secrets file.\n{}",
        toml::to_string(&file).context("serializing the cluster file")?
    );
    // Never write a file hakit itself would reject.
    config::parse(&text).map_err(|issues| ConfigError { file: None, issues })?;
    let secrets_out = args
        .secrets_out
        .clone()
        .unwrap_or_else(|| default_secrets_path(&args.out));
    for path in [&args.out, &secrets_out] {
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.is_dir())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating {} for {}", dir.display(), path.display()))?;
        }
    }
    std::fs::write(&args.out, &text).with_context(|| format!("writing {}", args.out.display()))?;
    errln!(
        "wrote {} (cluster {}, {} nodes)",
        args.out.display(),
        file.name.as_deref().unwrap_or(""),
        file.nodes.len()
    );
    if secrets_out.exists() {
        errln!("kept the existing secrets file {}", secrets_out.display());
    } else {
        Secrets::generate()?.write_new(&secrets_out)?;
        errln!(
            "wrote {} (mode 0600): copy it to /etc/hakit/secrets.toml on every node, root-only, and never commit it",
            secrets_out.display()
        );
    }
    Ok(())
}

fn default_secrets_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("hakit");
    out.with_file_name(format!("{stem}.secrets.toml"))
}

/// A virtual_router_id derived from the cluster name, so two clusters rarely collide.
pub fn derived_router_id(name: &str) -> u8 {
    // FNV-1a, folded into 1..=255.
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (hash % 255) as u8 + 1
}

/// Build the cluster file from flags, listing every missing value at once.
pub fn cluster_file(args: &InitArgs) -> anyhow::Result<ClusterFile> {
    let mut missing = Vec::new();
    if args.cluster.is_none() {
        missing.push("--cluster NAME");
    }
    if args.profile.is_none() {
        missing.push("--profile (haproxy, proxysql or mariadb-galera)");
    }
    match args.mode.as_deref() {
        None => missing.push("--mode (aws-eip or l2-vip)"),
        Some("aws-eip") if args.eip_allocation_id.is_none() => {
            missing.push("--eip-allocation-id (aws-eip mode)")
        }
        Some("l2-vip") => {
            if args.vip.is_none() {
                missing.push("--vip ADDRESS/PREFIX (l2-vip mode)");
            }
            if args.interface.is_none() {
                missing.push("--interface (l2-vip mode)");
            }
        }
        _ => {}
    }
    if args.nodes.len() < 2 {
        missing.push("--node NAME=IP (at least two, preferred master first)");
    }
    let needs_backends = args
        .profile
        .as_deref()
        .filter(|p| profile::is_shipped(p))
        .and_then(|p| profile::load(p, Path::new(".")).ok())
        .is_some_and(|p| p.needs_backends);
    if needs_backends && args.backends.is_empty() {
        missing.push("--backend HOST:PORT (at least one database)");
    }
    if !missing.is_empty() {
        return Err(UsageError::with_hint(
            format!("missing values for a non-interactive init: {}", missing.join(", ")),
            "pass them as flags, or run `hakit init` on a terminal without --non-interactive (and without CI=true) for the wizard",
        )
        .into());
    }
    let mut nodes = Vec::new();
    for spec in &args.nodes {
        let (name, address) = spec.split_once('=').ok_or_else(|| {
            UsageError::new(format!(
                "--node {spec}: expected NAME=IP, like n1=10.0.1.11"
            ))
        })?;
        nodes.push(NodeFile {
            name: Some(name.to_string()),
            address: Some(address.to_string()),
            ..NodeFile::default()
        });
    }
    let name = args.cluster.clone();
    let vrid = args
        .virtual_router_id
        .unwrap_or_else(|| derived_router_id(name.as_deref().unwrap_or("")));
    let aws_mode = args.mode.as_deref() == Some("aws-eip");
    Ok(ClusterFile {
        name,
        mode: args.mode.clone(),
        profile: args.profile.clone(),
        nodes,
        backends: args
            .backends
            .iter()
            .map(|b| BackendFile {
                address: Some(b.clone()),
                weight: None,
            })
            .collect(),
        aws: aws_mode.then(|| AwsFile {
            eip_allocation_id: args.eip_allocation_id.clone(),
            region: args.region.clone(),
            security_group_ids: args.security_group_ids.clone(),
            ..AwsFile::default()
        }),
        vip: (!aws_mode).then(|| VipFile {
            address: args.vip.clone(),
            interface: args.interface.clone(),
        }),
        vrrp: Some(VrrpFile {
            virtual_router_id: Some(i64::from(vrid)),
            interface: if aws_mode {
                args.interface.clone()
            } else {
                None
            },
            ..VrrpFile::default()
        }),
        ..ClusterFile::default()
    })
}

/// The wizard offers more backups up to this many nodes (more: edit the file).
const MAX_WIZARD_NODES: usize = 8;

fn wizard(args: &mut InitArgs) -> anyhow::Result<()> {
    use dialoguer::{Input, Select};
    let prompt_err =
        |e: dialoguer::Error| anyhow::anyhow!("reading an answer from the terminal: {e}");
    if args.cluster.is_none() {
        let name: String = Input::new()
            .with_prompt("Cluster name")
            .default("db-proxy".to_string())
            .validate_with(|s: &String| {
                if config::validate::is_slug(s, 32) {
                    Ok(())
                } else {
                    Err("1-32 lowercase letters, digits or '-'")
                }
            })
            .interact_text()
            .map_err(prompt_err)?;
        args.cluster = Some(name);
    }
    if args.profile.is_none() {
        let names = profile::shipped_names();
        let i = Select::new()
            .with_prompt("Profile")
            .items(&names)
            .default(0)
            .interact()
            .map_err(prompt_err)?;
        args.profile = Some(names[i].to_string());
    }
    if args.mode.is_none() {
        let modes = [
            "aws-eip (Elastic IP on AWS)",
            "l2-vip (virtual IP on a shared L2 network)",
        ];
        let i = Select::new()
            .with_prompt("Mode")
            .items(modes)
            .default(0)
            .interact()
            .map_err(prompt_err)?;
        args.mode = Some(if i == 0 { "aws-eip" } else { "l2-vip" }.to_string());
    }
    // On EC2 the instance's own facts are the defaults: the wizard usually runs on the
    // preferred master.
    let instance = if args.mode.as_deref() == Some("aws-eip") {
        this_instance()
    } else {
        None
    };
    if args.mode.as_deref() == Some("aws-eip") {
        if args.eip_allocation_id.is_none() {
            let id: String = Input::new()
                .with_prompt("Elastic IP allocation id (eipalloc-...)")
                .validate_with(|s: &String| {
                    if config::validate::is_aws_id(s, "eipalloc-") {
                        Ok(())
                    } else {
                        Err("an AllocationId like eipalloc-0123456789abcdef0, not the public IP (see `aws ec2 describe-addresses`)")
                    }
                })
                .interact_text()
                .map_err(prompt_err)?;
            args.eip_allocation_id = Some(id);
        }
        if args.region.is_none() {
            let default = instance
                .as_ref()
                .map(|f| f.region.clone())
                .or_else(|| std::env::var("AWS_REGION").ok())
                .unwrap_or_default();
            let region: String = Input::new()
                .with_prompt("AWS region")
                .default(default)
                .interact_text()
                .map_err(prompt_err)?;
            args.region = Some(region).filter(|r| !r.is_empty());
        }
        if args.security_group_ids.is_empty() {
            let default = instance
                .as_ref()
                .map(|f| f.security_group_ids.join(","))
                .unwrap_or_default();
            let groups: String = Input::new()
                .with_prompt("Security groups for the ENIs (comma-separated sg-...)")
                .default(default)
                .allow_empty(true)
                .interact_text()
                .map_err(prompt_err)?;
            args.security_group_ids = groups
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(String::from)
                .collect();
        }
    }
    if args.mode.as_deref() == Some("l2-vip") {
        if args.vip.is_none() {
            let vip: String = Input::new()
                .with_prompt("Virtual IP with prefix (e.g. 192.0.2.100/24)")
                .interact_text()
                .map_err(prompt_err)?;
            args.vip = Some(vip);
        }
        if args.interface.is_none() {
            let iface: String = Input::new()
                .with_prompt("Interface")
                .default("eth0".to_string())
                .interact_text()
                .map_err(prompt_err)?;
            args.interface = Some(iface);
        }
    }
    let ask_nodes = args.nodes.is_empty();
    let more = |what: &str| {
        dialoguer::Confirm::new()
            .with_prompt(format!("Add another {what}?"))
            .default(false)
            .wait_for_newline(true)
            .interact()
            .map_err(prompt_err)
    };
    while args.nodes.len() < 2
        || (ask_nodes && args.nodes.len() < MAX_WIZARD_NODES && more("backup node")?)
    {
        let n = args.nodes.len() + 1;
        let role = if n == 1 { "master" } else { "backup" };
        let mut input = Input::new().with_prompt(format!("Private IPv4 of node n{n} ({role})"));
        if let Some(f) = instance.as_ref().filter(|_| n == 1) {
            input = input.default(f.private_ip.clone());
        }
        let address: String = input
            .validate_with(|s: &String| {
                s.parse::<std::net::Ipv4Addr>()
                    .map(|_| ())
                    .map_err(|_| "an IPv4 address, like 10.0.1.11")
            })
            .interact_text()
            .map_err(prompt_err)?;
        args.nodes.push(format!("n{n}={address}"));
    }
    let needs_backends = args
        .profile
        .as_deref()
        .and_then(|p| profile::load(p, Path::new(".")).ok())
        .is_some_and(|p| p.needs_backends);
    if needs_backends && args.backends.is_empty() {
        loop {
            let backend: String = Input::new()
                .with_prompt("Database behind the proxy (host:port)")
                .validate_with(|s: &String| config::validate::parse_host_port(s).map(|_| ()))
                .interact_text()
                .map_err(prompt_err)?;
            args.backends.push(backend);
            if !more("database")? {
                break;
            }
        }
    }
    Ok(())
}

/// This instance's facts from IMDS, if hakit runs on EC2 (one short attempt otherwise).
fn this_instance() -> Option<hakit_cloud::NodeFacts> {
    if std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        return None;
    }
    match hakit_cloud::Imds::from_env().and_then(|imds| imds.facts()) {
        Ok(facts) => {
            errln!(
                "this instance: {} in {} ({}), subnet {}, private IP {}: offered as defaults",
                facts.instance_id,
                facts.region,
                facts.availability_zone,
                facts.subnet_id,
                facts.private_ip
            );
            Some(facts)
        }
        Err(_) => {
            errln!("not on EC2 (no instance metadata): no defaults from the instance");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::derived_router_id;

    #[test]
    fn derived_router_id_is_stable_and_in_range() {
        assert_eq!(derived_router_id("demo"), derived_router_id("demo"));
        for name in ["a", "demo", "db-proxy", "x-very-long-cluster-name-1234567"] {
            assert!((1..=255).contains(&derived_router_id(name)));
        }
        assert_ne!(derived_router_id("demo"), derived_router_id("demo2"));
    }
}
