//! Turn a [`ClusterFile`] into a [`Cluster`], collecting every problem instead of stopping
//! at the first one. Each rule names the key it checks and how to fix it.

use super::cluster::{Aws, Backend, Check, Cluster, Mode, Node, Paths, Proxy, Vip, Vrrp};
use super::file::{ClusterFile, NodeFile};
use super::ConfigIssue;
use crate::profile;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// Default priority of the first node; each following node gets `priority_step` less.
pub const FIRST_PRIORITY: u8 = 150;
pub const PRIORITY_STEP: u8 = 10;

/// The default gap between neighbouring nodes' priorities: 10 for a pair; with three or
/// more, the backups spread over 150..50, because two backups' takeover timers differ by
/// gap/256 of advert_int (VRRPv3 skew time), and 10 (20 ms at 0.5 s) is too little for
/// one backup's first advert to reach the other before it takes over too.
pub fn priority_step(nodes: usize) -> i64 {
    if nodes < 3 {
        i64::from(PRIORITY_STEP)
    } else {
        (100 / (nodes as i64 - 1)).max(i64::from(PRIORITY_STEP))
    }
}

#[derive(Default)]
struct Issues(Vec<ConfigIssue>);

impl Issues {
    fn push(
        &mut self,
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.0.push(ConfigIssue::new(field, problem, fix));
    }
}

pub fn validate(file: &ClusterFile) -> Result<Cluster, Vec<ConfigIssue>> {
    let mut issues = Issues::default();

    let name = cluster_name(file.name.as_deref(), &mut issues);
    let profile = profile_name(file.profile.as_deref(), &mut issues);
    let vrrp = vrrp(file, &mut issues);
    let mode = mode(file, vrrp.as_ref(), &mut issues);
    let default_interface = default_interface(file);
    let nodes = nodes(&file.nodes, &default_interface, mode.as_ref(), &mut issues);
    let backends = backends(file, &mut issues);
    let check = check(file, &nodes, &mut issues);
    let proxy = proxy(file, &mut issues);
    let proxysql = super::proxysql::proxysql(file, &mut issues.0);
    let paths = paths(file, &mut issues);

    if !issues.0.is_empty() {
        return Err(issues.0);
    }
    match (name, profile, mode, vrrp, check, proxy, proxysql, paths) {
        (
            Some(name),
            Some(profile),
            Some(mode),
            Some(vrrp),
            Some(check),
            Some(proxy),
            Some(proxysql),
            Some(paths),
        ) => Ok(Cluster {
            name,
            mode,
            profile,
            nodes,
            backends,
            vrrp,
            check,
            proxy,
            proxysql,
            paths,
        }),
        // Every `None` above pushed an issue, so this is unreachable in practice; keep it an
        // error rather than a panic all the same.
        _ => Err(vec![ConfigIssue::new(
            "name",
            "the cluster file is incomplete",
            "run `hakit init` to write a complete one",
        )]),
    }
}

fn cluster_name(name: Option<&str>, issues: &mut Issues) -> Option<String> {
    let Some(name) = name else {
        issues.push(
            "name",
            "missing",
            "add `name = \"my-cluster\"` (lowercase letters, digits, '-')",
        );
        return None;
    };
    if !is_slug(name, 32) {
        issues.push(
            "name",
            format!("{name:?} is not a valid cluster name"),
            "use 1-32 lowercase letters, digits or '-', starting with a letter or digit (it becomes a tag value and keepalived's instance name)",
        );
        return None;
    }
    Some(name.to_string())
}

fn profile_name(name: Option<&str>, issues: &mut Issues) -> Option<String> {
    let shipped = profile::shipped_names().join(", ");
    let Some(name) = name else {
        issues.push(
            "profile",
            "missing",
            format!("add `profile = \"haproxy\"` (shipped profiles: {shipped})"),
        );
        return None;
    };
    if profile::is_shipped(name) || name.ends_with(".toml") {
        Some(name.to_string())
    } else {
        issues.push(
            "profile",
            format!("unknown profile {name:?}"),
            format!("use one of {shipped}, or the path of your own profile file ending in .toml"),
        );
        None
    }
}

fn default_interface(file: &ClusterFile) -> String {
    file.vrrp
        .as_ref()
        .and_then(|v| v.interface.clone())
        .or_else(|| file.vip.as_ref().and_then(|v| v.interface.clone()))
        .unwrap_or_else(|| "eth0".to_string())
}

fn mode(file: &ClusterFile, vrrp: Option<&Vrrp>, issues: &mut Issues) -> Option<Mode> {
    let Some(mode) = file.mode.as_deref() else {
        issues.push("mode", "missing", "add `mode = \"aws-eip\"` (Elastic IP on AWS) or `mode = \"l2-vip\"` (virtual IP on a shared L2 network)");
        return None;
    };
    match mode {
        "aws-eip" => {
            if file.vip.is_some() {
                issues.push(
                    "vip",
                    "a [vip] table is only used in l2-vip mode",
                    "remove [vip], or set `mode = \"l2-vip\"`",
                );
            }
            if let Some(vrrp) = vrrp {
                if !vrrp.unicast {
                    issues.push(
                        "vrrp.unicast",
                        "aws-eip mode needs unicast VRRP: VPCs do not carry multicast",
                        "remove `unicast = false` from [vrrp]",
                    );
                }
            }
            aws(file, issues).map(Mode::AwsEip)
        }
        "l2-vip" => {
            if file.aws.is_some() {
                issues.push(
                    "aws",
                    "an [aws] table is only used in aws-eip mode",
                    "remove [aws], or set `mode = \"aws-eip\"`",
                );
            }
            vip(file, issues).map(Mode::L2Vip)
        }
        other => {
            issues.push(
                "mode",
                format!("unknown mode {other:?}"),
                "use \"aws-eip\" or \"l2-vip\"",
            );
            None
        }
    }
}

fn aws(file: &ClusterFile, issues: &mut Issues) -> Option<Aws> {
    let Some(aws) = &file.aws else {
        issues.push(
            "aws.eip_allocation_id",
            "missing: aws-eip mode needs the Elastic IP to move",
            "add `[aws]` with `eip_allocation_id = \"eipalloc-...\"` (allocate it once with `aws ec2 allocate-address`; hakit never allocates or releases it)",
        );
        return None;
    };
    let mut ok = true;
    let allocation = match aws.eip_allocation_id.as_deref() {
        None => {
            issues.push(
                "aws.eip_allocation_id",
                "missing: aws-eip mode needs the Elastic IP to move",
                "add `eip_allocation_id = \"eipalloc-...\"` to [aws]",
            );
            ok = false;
            String::new()
        }
        Some(id) if !is_aws_id(id, "eipalloc-") => {
            issues.push(
                "aws.eip_allocation_id",
                format!("{id:?} is not an allocation id"),
                "use the AllocationId of the Elastic IP, like \"eipalloc-0123456789abcdef0\" (not the public IP)",
            );
            ok = false;
            String::new()
        }
        Some(id) => id.to_string(),
    };
    if let Some(region) = aws.region.as_deref() {
        if !is_region(region) {
            issues.push(
                "aws.region",
                format!("{region:?} is not an AWS region name"),
                "use a region like \"eu-west-1\", or remove it to use the instance's own region",
            );
            ok = false;
        }
    }
    if let Some(url) = aws.endpoint_url.as_deref() {
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.contains(char::is_whitespace)
        {
            issues.push(
                "aws.endpoint_url",
                format!("{url:?} is not an http(s) URL"),
                "use a URL like \"https://ec2.eu-west-1.amazonaws.com\", or remove it",
            );
            ok = false;
        }
    }
    for (i, sg) in aws.security_group_ids.iter().enumerate() {
        if !is_aws_id(sg, "sg-") {
            issues.push(
                format!("aws.security_group_ids[{i}]"),
                format!("{sg:?} is not a security group id"),
                "use ids like \"sg-0123456789abcdef0\"",
            );
            ok = false;
        }
    }
    let reconcile_interval = match aws.reconcile_interval.unwrap_or(5.0) {
        0.0 => 0,
        v => match whole_seconds("aws.reconcile_interval", v, 2, 3600, issues) {
            Some(v) => v,
            None => {
                ok = false;
                0
            }
        },
    };
    ok.then(|| Aws {
        eip_allocation_id: allocation,
        region: aws.region.clone(),
        security_group_ids: aws.security_group_ids.clone(),
        source_dest_check: aws.source_dest_check.unwrap_or(true),
        endpoint_url: aws.endpoint_url.clone(),
        reconcile_interval,
    })
}

fn vip(file: &ClusterFile, issues: &mut Issues) -> Option<Vip> {
    let Some(vip) = &file.vip else {
        issues.push(
            "vip.address",
            "missing: l2-vip mode needs the virtual IP",
            "add `[vip]` with `address = \"192.0.2.100/24\"` and `interface = \"eth0\"`",
        );
        return None;
    };
    let interface = match vip.interface.as_deref() {
        Some(name) if is_interface_name(name) => Some(name.to_string()),
        Some(name) => {
            issues.push("vip.interface", format!("{name:?} is not a network interface name"), "use the interface on the shared L2 segment, like \"eth0\" (1-15 characters, no '/' or spaces)");
            None
        }
        None => {
            issues.push(
                "vip.interface",
                "missing",
                "add `interface = \"eth0\"`: the interface on the shared L2 segment",
            );
            None
        }
    };
    let address = match vip.address.as_deref() {
        None => {
            issues.push(
                "vip.address",
                "missing",
                "add `address = \"192.0.2.100/24\"` (the virtual IP with its prefix length)",
            );
            None
        }
        Some(text) => match parse_cidr(text) {
            Ok(cidr) => Some(cidr),
            Err(problem) => {
                issues.push(
                    "vip.address",
                    format!("{text:?}: {problem}"),
                    "write the virtual IP as IPv4 address/prefix, like \"192.0.2.100/24\"",
                );
                None
            }
        },
    };
    let (address, prefix) = address?;
    Some(Vip {
        address,
        prefix,
        interface: interface?,
    })
}

fn nodes(
    files: &[NodeFile],
    default_interface: &str,
    mode: Option<&Mode>,
    issues: &mut Issues,
) -> Vec<Node> {
    if files.len() < 2 {
        issues.push(
            "node",
            format!(
                "{} node{} listed; an active/standby pair needs at least 2",
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            ),
            "add a [[node]] table (name, address) for every node, the preferred master first",
        );
    }
    let mut names = HashSet::new();
    let mut addresses = HashSet::new();
    let mut nodes = Vec::new();
    let mut previous_priority: Option<i64> = None;
    for (i, file) in files.iter().enumerate() {
        let field = |key: &str| format!("node[{i}].{key}");
        let name = match file.name.as_deref() {
            None => {
                issues.push(
                    field("name"),
                    "missing",
                    "give every node a name, like `name = \"n1\"`",
                );
                None
            }
            Some(name) if !is_slug(name, 63) => {
                issues.push(
                    field("name"),
                    format!("{name:?} is not a valid node name"),
                    "use 1-63 lowercase letters, digits or '-'",
                );
                None
            }
            Some(name) if !names.insert(name.to_string()) => {
                issues.push(
                    field("name"),
                    format!("duplicate node name {name:?}"),
                    "give every node a different name",
                );
                None
            }
            Some(name) => Some(name.to_string()),
        };
        let address = match file.address.as_deref() {
            None => {
                issues.push(
                    field("address"),
                    "missing",
                    "add the node's private IPv4 address, like `address = \"10.0.1.11\"`",
                );
                None
            }
            Some(text) => {
                match text.parse::<Ipv4Addr>() {
                    Err(_) => {
                        issues.push(field("address"), format!("{text:?} is not an IPv4 address"), "use the node's private IPv4 address without a prefix, like \"10.0.1.11\"");
                        None
                    }
                    Ok(addr)
                        if addr.is_unspecified()
                            || addr.is_loopback()
                            || addr.is_multicast()
                            || addr.is_broadcast() =>
                    {
                        issues.push(
                            field("address"),
                            format!("{addr} cannot carry VRRP between nodes"),
                            "use the node's private unicast address on the network the nodes share",
                        );
                        None
                    }
                    Ok(addr) if !addresses.insert(addr) => {
                        issues.push(
                            field("address"),
                            format!("duplicate address {addr}"),
                            "every node needs its own address",
                        );
                        None
                    }
                    Ok(addr) => Some(addr),
                }
            }
        };
        if let (Some(addr), Some(Mode::L2Vip(vip))) = (address, mode) {
            if addr == vip.address {
                issues.push(
                    field("address"),
                    format!("{addr} is also the virtual IP"),
                    "the VIP must be an address no node owns",
                );
            }
        }
        if let Some(id) = file.instance_id.as_deref() {
            if !is_aws_id(id, "i-") {
                issues.push(field("instance_id"), format!("{id:?} is not an EC2 instance id"), "use an id like \"i-0123456789abcdef0\", or remove it to read it from the instance metadata");
            }
        }
        let priority = match file.priority {
            Some(p) if !(1..=254).contains(&p) => {
                issues.push(
                    field("priority"),
                    format!("{p} is outside 1-254"),
                    "use a VRRP priority between 1 and 254 (255 is reserved for an address owner)",
                );
                None
            }
            Some(p) => Some(p),
            None => Some(match previous_priority {
                None => i64::from(FIRST_PRIORITY),
                Some(prev) => prev - priority_step(files.len()),
            }),
        };
        if let (Some(p), Some(prev)) = (priority, previous_priority) {
            if p >= prev {
                issues.push(
                    field("priority"),
                    format!("priority {p} is not below the previous node's {prev}"),
                    "list nodes in priority order (preferred master first) with strictly decreasing priorities",
                );
            } else if p < 1 {
                issues.push(
                    field("priority"),
                    format!("the default priority would be {p}"),
                    "set explicit priorities between 1 and 254 on every node",
                );
            }
        }
        previous_priority = priority.or(previous_priority);
        let interface = match file.interface.as_deref() {
            Some(name) if !is_interface_name(name) => {
                issues.push(
                    field("interface"),
                    format!("{name:?} is not a network interface name"),
                    "use a name like \"eth0\" or \"ens5\"",
                );
                None
            }
            Some(name) => Some(name.to_string()),
            None => Some(default_interface.to_string()),
        };
        if let (Some(name), Some(address), Some(p), Some(interface)) =
            (name, address, priority, interface)
        {
            if (1..=254).contains(&p) {
                nodes.push(Node {
                    name,
                    address,
                    instance_id: file.instance_id.clone(),
                    priority: p as u8,
                    interface,
                });
            }
        }
    }
    nodes
}

fn backends(file: &ClusterFile, issues: &mut Issues) -> Vec<Backend> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, backend) in file.backends.iter().enumerate() {
        let field = |key: &str| format!("backend[{i}].{key}");
        let Some(text) = backend.address.as_deref() else {
            issues.push(
                field("address"),
                "missing",
                "add `address = \"10.0.1.21:3306\"` (host:port of the database)",
            );
            continue;
        };
        let parsed = match parse_host_port(text) {
            Ok(hp) => hp,
            Err(problem) => {
                issues.push(
                    field("address"),
                    format!("{text:?}: {problem}"),
                    "write the database as host:port, like \"10.0.1.21:3306\"",
                );
                continue;
            }
        };
        if !seen.insert(parsed.clone()) {
            issues.push(
                field("address"),
                format!("duplicate backend {text}"),
                "list every database once",
            );
            continue;
        }
        let weight = match backend.weight {
            None => 1,
            Some(w) if (0..=256).contains(&w) => w as u16,
            Some(w) => {
                issues.push(
                    field("weight"),
                    format!("{w} is outside 0-256"),
                    "use a weight between 0 (drain) and 256",
                );
                continue;
            }
        };
        out.push(Backend {
            host: parsed.0,
            port: parsed.1,
            weight,
        });
    }
    out
}

fn vrrp(file: &ClusterFile, issues: &mut Issues) -> Option<Vrrp> {
    let aws = file.mode.as_deref() == Some("aws-eip");
    let Some(v) = &file.vrrp else {
        issues.push("vrrp.virtual_router_id", "missing", "add `[vrrp]` with `virtual_router_id = 51` (1-255, unique among VRRP clusters on the same network)");
        return None;
    };
    let mut ok = true;
    let vrid = match v.virtual_router_id {
        None => {
            issues.push("vrrp.virtual_router_id", "missing", "add `virtual_router_id = 51` to [vrrp] (1-255, unique among VRRP clusters on the same network)");
            ok = false;
            0
        }
        Some(id) if !(1..=255).contains(&id) => {
            issues.push(
                "vrrp.virtual_router_id",
                format!("{id} is outside 1-255"),
                "pick a virtual_router_id between 1 and 255, unique on the network",
            );
            ok = false;
            0
        }
        Some(id) => id as u8,
    };
    let version = match v.version.unwrap_or(3) {
        2 => 2,
        3 => 3,
        other => {
            issues.push(
                "vrrp.version",
                format!("VRRP version {other} does not exist"),
                "use 3 (default; sub-second adverts) or 2",
            );
            ok = false;
            3
        }
    };
    let default_advert = if version == 3 { 0.5 } else { 1.0 };
    let advert = v.advert_int.unwrap_or(default_advert);
    let advert_cs = (advert * 100.0).round();
    let advert_int_cs =
        if !(advert.is_finite()) || advert_cs < 1.0 || (advert * 100.0 - advert_cs).abs() > 1e-6 {
            issues.push(
                "vrrp.advert_int",
                format!("{advert} is not a whole number of centiseconds"),
                "use seconds with at most two decimals, like 1 or 0.5",
            );
            ok = false;
            0
        } else if version == 2 && (!(advert_cs as u32).is_multiple_of(100) || advert_cs > 25500.0) {
            issues.push(
                "vrrp.advert_int",
                format!("VRRPv2 adverts are whole seconds (1-255), not {advert}"),
                "use a whole number of seconds, or `version = 3` for sub-second adverts",
            );
            ok = false;
            0
        } else if version == 3 && advert_cs > 4095.0 {
            issues.push(
                "vrrp.advert_int",
                format!("{advert} s is longer than VRRPv3 allows (40.95 s)"),
                "use at most 40.95 (0.5-1 s is typical)",
            );
            ok = false;
            0
        } else {
            advert_cs as u32
        };
    let unicast = v.unicast.unwrap_or(aws);
    let auth = v.auth.unwrap_or(version == 2);
    if auth && version == 3 {
        issues.push(
            "vrrp.auth",
            "VRRPv3 has no authentication (RFC 5798 removed it)",
            "set `auth = false`, or `version = 2` if you need PASS authentication",
        );
        ok = false;
    }
    if let Some(name) = v.interface.as_deref() {
        if !is_interface_name(name) {
            issues.push(
                "vrrp.interface",
                format!("{name:?} is not a network interface name"),
                "use a name like \"eth0\" or \"ens5\"",
            );
            ok = false;
        }
    }
    let startup_delay = match v.startup_delay {
        None => 0,
        Some(secs) => match whole_seconds("vrrp.startup_delay", secs, 0, 60, issues) {
            Some(secs) => secs,
            None => {
                ok = false;
                0
            }
        },
    };
    ok.then_some(Vrrp {
        virtual_router_id: vrid,
        advert_int_cs,
        version,
        preempt: v.preempt.unwrap_or(false),
        unicast,
        auth,
        startup_delay,
    })
}

fn whole_seconds(field: &str, value: f64, min: u32, max: u32, issues: &mut Issues) -> Option<u32> {
    if value.fract() != 0.0 {
        issues.push(
            field,
            format!("{value} is not a whole number of seconds"),
            "keepalived 2.2.7 (Debian 12) rejects fractional script intervals ('invalid number'); use a whole number like 1",
        );
        return None;
    }
    if value < f64::from(min) || value > f64::from(max) {
        issues.push(
            field,
            format!("{value} is outside {min}-{max}"),
            format!("use a whole number of seconds between {min} and {max}"),
        );
        return None;
    }
    Some(value as u32)
}

fn count(field: &str, value: i64, issues: &mut Issues) -> Option<u32> {
    if (1..=100).contains(&value) {
        Some(value as u32)
    } else {
        issues.push(
            field,
            format!("{value} is outside 1-100"),
            "use how many consecutive results flip the state, between 1 and 100",
        );
        None
    }
}

fn check(file: &ClusterFile, nodes: &[Node], issues: &mut Issues) -> Option<Check> {
    let c = file.check.clone().unwrap_or_default();
    let interval = whole_seconds("check.interval", c.interval.unwrap_or(1.0), 1, 3600, issues);
    let timeout = whole_seconds("check.timeout", c.timeout.unwrap_or(1.0), 1, 3600, issues);
    let rise = count("check.rise", c.rise.unwrap_or(2), issues);
    let fall = count("check.fall", c.fall.unwrap_or(1), issues);
    let weight = match c.weight.unwrap_or(0) {
        w if !(-253..=253).contains(&w) => {
            issues.push("check.weight", format!("{w} is outside -253..253"), "use 0 (a failed check means FAULT, the fastest failover) or a weight keepalived accepts");
            None
        }
        w => Some(w as i32),
    };
    if let Some(w) = weight.filter(|w| *w != 0) {
        for pair in nodes.windows(2) {
            let (upper, lower) = (&pair[0], &pair[1]);
            let gap = i32::from(upper.priority) - i32::from(lower.priority);
            if w.abs() <= gap {
                issues.push(
                    "check.weight",
                    format!(
                        "a failed check on {} (priority {}) would not let {} (priority {}) take over: |weight| {} is not larger than the gap {gap}",
                        upper.name, upper.priority, lower.name, lower.priority, w.abs()
                    ),
                    format!("use a weight with |weight| > {gap}, bring the priorities closer, or remove `weight` so a failed check puts the node in FAULT"),
                );
                break;
            }
        }
        let top = nodes.first().map(|n| i32::from(n.priority)).unwrap_or(0);
        if w > 0 && top + w > 254 {
            issues.push(
                "check.weight",
                format!("{} + weight {w} exceeds the maximum priority 254", top),
                "lower the priorities or the weight",
            );
        }
    }
    if let (Some(i), Some(t)) = (interval, timeout) {
        if t > i {
            issues.push(
                "check.timeout",
                format!("timeout {t} s is longer than the interval {i} s"),
                "make the timeout at most the interval",
            );
        }
    }
    Some(Check {
        interval: interval?,
        timeout: timeout?,
        rise: rise?,
        fall: fall?,
        weight: weight?,
        track_process: c.track_process.unwrap_or(true),
    })
}

fn port(field: &str, value: Option<i64>, issues: &mut Issues) -> Option<Option<u16>> {
    match value {
        None => Some(None),
        Some(p) if (1..=65535).contains(&p) => Some(Some(p as u16)),
        Some(p) => {
            issues.push(
                field,
                format!("{p} is outside 1-65535"),
                "use a TCP port between 1 and 65535",
            );
            None
        }
    }
}

fn proxy(file: &ClusterFile, issues: &mut Issues) -> Option<Proxy> {
    let p = file.proxy.clone().unwrap_or_default();
    let port_ = port("proxy.port", p.port, issues);
    let admin = port("proxy.admin_port", p.admin_port, issues);
    let stats = port("proxy.stats_port", p.stats_port, issues);
    let (port_, admin, stats) = (port_?, admin?, stats?);
    let named = [
        ("proxy.port", port_),
        ("proxy.admin_port", admin),
        ("proxy.stats_port", stats),
    ];
    for (i, (a_name, a)) in named.iter().enumerate() {
        for (b_name, b) in &named[i + 1..] {
            if let (Some(a), Some(b)) = (a, b) {
                if a == b {
                    issues.push(
                        *b_name,
                        format!("port {b} is also {a_name}"),
                        "give the client, admin and stats listeners different ports",
                    );
                    return None;
                }
            }
        }
    }
    let interval = p.backend_check_interval.unwrap_or(2.0);
    let backend_check_ms = if (0.1..=60.0).contains(&interval) {
        (interval * 1000.0).round() as u32
    } else {
        issues.push(
            "proxy.backend_check_interval",
            format!("{interval} s is out of range"),
            "use 0.1 to 60 seconds (the default is 2)",
        );
        return None;
    };
    let backend_rise = count("proxy.backend_rise", p.backend_rise.unwrap_or(2), issues)?;
    let backend_fall = count("proxy.backend_fall", p.backend_fall.unwrap_or(3), issues)?;
    Some(Proxy {
        port: port_,
        admin_port: admin,
        stats_port: stats,
        backend_check_ms,
        backend_rise,
        backend_fall,
    })
}

fn paths(file: &ClusterFile, issues: &mut Issues) -> Option<Paths> {
    let p = file.paths.clone().unwrap_or_default();
    let mut ok = true;
    let mut path = |key: &str, value: Option<String>, default: &str| -> PathBuf {
        let value = value.unwrap_or_else(|| default.to_string());
        if !value.starts_with('/') || value.contains("..") {
            issues.push(
                format!("paths.{key}"),
                format!("{value:?} is not an absolute path"),
                "use an absolute path without '..', like \"/etc/keepalived\"",
            );
            ok = false;
        }
        PathBuf::from(value)
    };
    let paths = Paths {
        keepalived_dir: path("keepalived_dir", p.keepalived_dir, "/etc/keepalived"),
        config_dir: path("config_dir", p.config_dir, "/etc/hakit"),
        state_dir: path("state_dir", p.state_dir, "/var/lib/hakit"),
        script_dir: path("script_dir", p.script_dir, "/usr/local/libexec/hakit"),
        log_dir: path("log_dir", p.log_dir, "/var/log/hakit"),
        run_dir: path("run_dir", p.run_dir, "/run/hakit"),
        proxy_config_dir: p
            .proxy_config_dir
            .map(|d| path("proxy_config_dir", Some(d), "")),
        hakit_bin: p.hakit_bin.map(|bin| path("hakit_bin", Some(bin), "")),
        network_dir: path("network_dir", p.network_dir, "/etc/systemd/network"),
        nm_connection_dir: path(
            "nm_connection_dir",
            p.nm_connection_dir,
            "/etc/NetworkManager/system-connections",
        ),
        ifupdown_dir: path("ifupdown_dir", p.ifupdown_dir, "/etc/network/interfaces.d"),
        tmpfiles_dir: path("tmpfiles_dir", p.tmpfiles_dir, "/etc/tmpfiles.d"),
    };
    if let Some(bin) = paths.hakit_bin.as_deref().filter(|b| !is_shell_plain(b)) {
        issues.push(
            "paths.hakit_bin",
            format!(
                "{:?} has characters a shell script would split or expand",
                bin.display().to_string()
            ),
            "install hakit at a path of letters, digits and / . _ + - only, like \"/usr/bin/hakit\"",
        );
        ok = false;
    }
    ok.then_some(paths)
}

/// Only characters a POSIX shell takes literally in a word: letters, digits, `/._+-`.
pub fn is_shell_plain(path: &std::path::Path) -> bool {
    path.to_str().is_some_and(|s| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b))
    })
}

/// 1..=max chars of [a-z0-9-], not starting with '-'.
pub fn is_slug(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (8..=17).contains(&hex.len())
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

pub fn is_interface_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b))
}

/// "192.0.2.100/24" -> (addr, 24)
pub fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (addr, prefix) = s.split_once('/').ok_or("missing the /prefix length")?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
    if !(1..=32).contains(&prefix) {
        return Err(format!("prefix length {prefix} is outside 1-32"));
    }
    if addr.is_unspecified() || addr.is_loopback() || addr.is_multicast() || addr.is_broadcast() {
        return Err(format!("{addr} cannot be a virtual IP"));
    }
    Ok((addr, prefix))
}

/// "10.0.1.21:3306" or "db1.internal:3306" -> (host, port)
pub fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s.rsplit_once(':').ok_or("missing the :port")?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port:?} is not a port"))?;
    if port == 0 {
        return Err("port 0 is not a port".to_string());
    }
    let is_ip = host.parse::<Ipv4Addr>().is_ok();
    let looks_numeric = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let is_hostname = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if is_ip || (is_hostname && !looks_numeric) {
        Ok((host.to_string(), port))
    } else {
        Err(format!(
            "{host:?} is neither an IPv4 address nor a host name"
        ))
    }
}
