//! [`FakeCloud`], in-memory EC2 with the contract of [`crate::Ec2Cloud`]: each trait method
//! makes the same EC2 requests in the same order and treats the same answers as "already
//! done", and the fake answers each request as AWS does.
//!
//! What AWS does that the fake models, request by request: tag filters, `ClientToken`
//! idempotency (`IdempotentParameterMismatch` on a changed request), private addresses
//! from the subnet (its first four and last address reserved), attaching an ENI that is
//! in use (`InvalidNetworkInterface.InUse`, as EC2's error-code list names it for "cannot
//! be deleted or attached to another instance"), a taken device index
//! (`InvalidParameterValue`), deleting an attached ENI (`InvalidNetworkInterface.InUse`),
//! a deleted ENI losing its Elastic IP (disassociated, still allocated), reassociation
//! (a new association id each time; an ENI's private address holds one Elastic IP, so the
//! one there before is disassociated), the `*.NotFound` codes, DryRun answers, and the
//! SDK's standard retry of throttling and 5xx (up to [`Limits::max_attempts`] attempts).
//! Every attempt is recorded ([`FakeCloud::calls`]); tests fail the next requests of an
//! action ([`FakeCloud::fail_next`]) or deny an action ([`FakeCloud::deny`]). Changes are
//! immediately consistent: the polls `Ec2Cloud` makes succeed at their first check, and
//! nothing sleeps.
//!
//! Not modelled: availability zones (an ENI attaches to any instance), security groups
//! (not checked), VPCs and internet gateways, an instance's primary ENI (it only occupies
//! device index 0), eventual consistency.

use crate::cloud::{
    Action, Address, Attachment, Cloud, Eni, NewEni, Probe, TAG_CLUSTER, TAG_NODE, TAG_RUN,
    TAG_STATE,
};
use crate::connect::Limits;
use crate::error::CloudError;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The EC2 API name of an action ("AttachNetworkInterface"), as the call log shows it.
fn api_name(action: Action) -> &'static str {
    let name = action.iam_name();
    name.strip_prefix("ec2:").unwrap_or(name)
}

/// EC2's answer to a failed request: its code and message (the caller adds what hakit was
/// doing).
#[derive(Debug)]
struct Ec2Error {
    code: &'static str,
    message: String,
}

type Answer<T> = Result<T, Ec2Error>;

fn ec2_error(code: &'static str, message: String) -> Ec2Error {
    Ec2Error { code, message }
}

/// A subnet's usable addresses: AWS reserves the first four and the last.
#[derive(Debug)]
struct Subnet {
    first: u32,
    last: u32,
    used: BTreeSet<u32>,
}

impl Subnet {
    fn parse(cidr: &str) -> Option<Subnet> {
        let (addr, len) = cidr.split_once('/')?;
        let addr = u32::from(addr.parse::<Ipv4Addr>().ok()?);
        let len: u32 = len.parse().ok()?;
        // The sizes AWS allows for a subnet, given as its network address.
        if !(16..=28).contains(&len) {
            return None;
        }
        let mask = u32::MAX << (32 - len);
        if addr & !mask != 0 {
            return None;
        }
        Some(Subnet {
            first: addr + 4,
            last: (addr | !mask) - 1,
            used: BTreeSet::new(),
        })
    }

    fn take(&mut self) -> Option<Ipv4Addr> {
        let free = (self.first..=self.last).find(|ip| !self.used.contains(ip))?;
        self.used.insert(free);
        Some(Ipv4Addr::from(free))
    }
}

/// One network interface as EC2 keeps it.
#[derive(Debug, Clone)]
struct NetIf {
    id: String,
    subnet_id: String,
    mac: String,
    private_ip: Ipv4Addr,
    tags: BTreeMap<String, String>,
    source_dest_check: bool,
    attachment: Option<Attachment>,
}

impl NetIf {
    fn view(&self) -> Eni {
        Eni {
            id: self.id.clone(),
            node: self.tags.get(TAG_NODE).cloned(),
            state: self
                .tags
                .get(TAG_STATE)
                .map(|v| crate::cloud::parse_state_tag(v).0),
            state_at: self
                .tags
                .get(TAG_STATE)
                .and_then(|v| crate::cloud::parse_state_tag(v).1),
            mac: Some(self.mac.clone()),
            private_ip: Some(self.private_ip.to_string()),
            subnet_id: Some(self.subnet_id.clone()),
            attachment: self.attachment.clone(),
        }
    }
}

/// An Elastic IP: allocated for as long as the fake lives (hakit never releases one).
#[derive(Debug, Clone)]
struct Eip {
    public_ip: String,
    /// (association id, ENI id)
    association: Option<(String, String)>,
}

impl Eip {
    fn view(&self, allocation_id: &str) -> Address {
        Address {
            allocation_id: allocation_id.to_string(),
            public_ip: Some(self.public_ip.clone()),
            association_id: self.association.as_ref().map(|(a, _)| a.clone()),
            network_interface_id: self.association.as_ref().map(|(_, e)| e.clone()),
        }
    }
}

/// What a CreateNetworkInterface request asked for, to compare a retry with its token's
/// first use.
#[derive(Debug, Clone, PartialEq)]
struct CreateRequest {
    cluster: String,
    node: String,
    run: String,
    subnet_id: String,
    security_group_ids: Vec<String>,
}

impl CreateRequest {
    fn of(req: &NewEni) -> Self {
        CreateRequest {
            cluster: req.cluster.clone(),
            node: req.node.clone(),
            run: req.run.clone(),
            subnet_id: req.subnet_id.clone(),
            security_group_ids: req.security_group_ids.clone(),
        }
    }
}

#[derive(Debug)]
struct Fault {
    action: Action,
    remaining: u32,
    code: String,
}

#[derive(Debug, Default)]
struct World {
    instances: BTreeSet<String>,
    subnets: BTreeMap<String, Subnet>,
    enis: BTreeMap<String, NetIf>,
    addresses: BTreeMap<String, Eip>,
    /// ClientToken -> the request and its original result.
    tokens: BTreeMap<String, (CreateRequest, Eni)>,
    counter: u64,
    faults: Vec<Fault>,
    denied: Vec<Action>,
    calls: Vec<String>,
}

fn eni_not_found(id: &str) -> Ec2Error {
    ec2_error(
        "InvalidNetworkInterfaceID.NotFound",
        format!("The networkInterface ID '{id}' does not exist"),
    )
}

impl World {
    /// Ids are zero-padded and increasing, so the maps keep creation order.
    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn take_fault(&mut self, action: Action) -> Option<String> {
        let fault = self
            .faults
            .iter_mut()
            .find(|f| f.action == action && f.remaining > 0)?;
        fault.remaining -= 1;
        let code = fault.code.clone();
        self.faults.retain(|f| f.remaining > 0);
        Some(code)
    }

    fn eni(&self, id: &str) -> Answer<&NetIf> {
        self.enis.get(id).ok_or_else(|| eni_not_found(id))
    }

    fn eni_mut(&mut self, id: &str) -> Answer<&mut NetIf> {
        self.enis.get_mut(id).ok_or_else(|| eni_not_found(id))
    }

    /// DescribeNetworkInterfaces by id: an unknown id is an error, not an empty answer.
    fn describe_network_interface(&self, id: &str) -> Answer<Eni> {
        self.eni(id).map(NetIf::view)
    }

    /// DescribeNetworkInterfaces with `tag:` filters (all must match).
    fn describe_network_interfaces_tagged(&self, filters: &[(&str, &str)]) -> Vec<Eni> {
        self.enis
            .values()
            .filter(|n| {
                filters
                    .iter()
                    .all(|(k, v)| n.tags.get(*k).map(String::as_str) == Some(*v))
            })
            .map(NetIf::view)
            .collect()
    }

    /// DescribeInstances: the device indexes in use (0 is the primary interface).
    fn describe_instance(&self, instance_id: &str) -> Answer<Vec<i32>> {
        if !self.instances.contains(instance_id) {
            return Err(ec2_error(
                "InvalidInstanceID.NotFound",
                format!("The instance ID '{instance_id}' does not exist"),
            ));
        }
        let mut used = vec![0];
        used.extend(
            self.enis
                .values()
                .filter_map(|n| n.attachment.as_ref())
                .filter(|a| a.instance_id.as_deref() == Some(instance_id))
                .filter_map(|a| a.device_index),
        );
        Ok(used)
    }

    fn create_network_interface(&mut self, req: &NewEni) -> Answer<Eni> {
        let request = CreateRequest::of(req);
        if !req.client_token.is_empty() {
            if let Some((first, original)) = self.tokens.get(&req.client_token) {
                if *first != request {
                    return Err(ec2_error(
                        "IdempotentParameterMismatch",
                        format!(
                            "The client token '{}' was used before with different parameters",
                            req.client_token
                        ),
                    ));
                }
                // The original result, in its current state while the ENI exists; a
                // retry never creates a second one.
                return Ok(self
                    .enis
                    .get(&original.id)
                    .map(NetIf::view)
                    .unwrap_or_else(|| original.clone()));
            }
        }
        let subnet = self.subnets.get_mut(&req.subnet_id).ok_or_else(|| {
            ec2_error(
                "InvalidSubnetID.NotFound",
                format!("The subnet ID '{}' does not exist", req.subnet_id),
            )
        })?;
        let private_ip = subnet.take().ok_or_else(|| {
            ec2_error(
                "InsufficientFreeAddressesInSubnet",
                format!("no free address left in {}", req.subnet_id),
            )
        })?;
        let n = self.next_id();
        let b = n.to_be_bytes();
        let mut tags = BTreeMap::new();
        for (k, v) in [
            (TAG_CLUSTER, req.cluster.as_str()),
            (TAG_NODE, req.node.as_str()),
            (TAG_RUN, req.run.as_str()),
        ] {
            tags.insert(k.to_string(), v.to_string());
        }
        tags.insert("Name".into(), format!("hakit-{}-{}", req.cluster, req.node));
        let eni = NetIf {
            id: format!("eni-{n:017x}"),
            subnet_id: req.subnet_id.clone(),
            mac: format!(
                "0e:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                b[3], b[4], b[5], b[6], b[7]
            ),
            private_ip,
            tags,
            source_dest_check: true,
            attachment: None,
        };
        let view = eni.view();
        self.enis.insert(eni.id.clone(), eni);
        if !req.client_token.is_empty() {
            self.tokens
                .insert(req.client_token.clone(), (request, view.clone()));
        }
        Ok(view)
    }

    fn attach_network_interface(
        &mut self,
        eni_id: &str,
        instance_id: &str,
        device_index: i32,
    ) -> Answer<String> {
        let eni = self.eni(eni_id)?;
        let used = self.describe_instance(instance_id)?;
        if eni.attachment.is_some() {
            return Err(ec2_error(
                "InvalidNetworkInterface.InUse",
                format!("Interface: [{eni_id}] in use."),
            ));
        }
        if used.contains(&device_index) {
            return Err(ec2_error(
                "InvalidParameterValue",
                format!(
                    "Instance '{instance_id}' already has an interface attached at device index '{device_index}'."
                ),
            ));
        }
        let id = format!("eni-attach-{:017x}", self.next_id());
        self.eni_mut(eni_id)?.attachment = Some(Attachment {
            id: id.clone(),
            instance_id: Some(instance_id.to_string()),
            device_index: Some(device_index),
            status: "attached".into(),
        });
        Ok(id)
    }

    fn detach_network_interface(&mut self, attachment_id: &str) -> Answer<()> {
        let eni = self
            .enis
            .values_mut()
            .find(|n| n.attachment.as_ref().is_some_and(|a| a.id == attachment_id))
            .ok_or_else(|| {
                ec2_error(
                    "InvalidAttachmentID.NotFound",
                    format!("The attachment ID '{attachment_id}' does not exist"),
                )
            })?;
        eni.attachment = None;
        Ok(())
    }

    fn delete_network_interface(&mut self, eni_id: &str) -> Answer<()> {
        let eni = self.eni(eni_id)?;
        if eni.attachment.is_some() {
            return Err(ec2_error(
                "InvalidNetworkInterface.InUse",
                format!("The network interface '{eni_id}' is currently in use."),
            ));
        }
        let (subnet_id, ip) = (eni.subnet_id.clone(), u32::from(eni.private_ip));
        self.enis.remove(eni_id);
        if let Some(subnet) = self.subnets.get_mut(&subnet_id) {
            subnet.used.remove(&ip);
        }
        // Its Elastic IP is freed for another interface: disassociated, still allocated.
        for eip in self.addresses.values_mut() {
            if eip.association.as_ref().is_some_and(|(_, e)| e == eni_id) {
                eip.association = None;
            }
        }
        Ok(())
    }

    fn address(&self, allocation_id: &str) -> Answer<&Eip> {
        self.addresses.get(allocation_id).ok_or_else(|| {
            ec2_error(
                "InvalidAllocationID.NotFound",
                format!("The allocation ID '{allocation_id}' does not exist"),
            )
        })
    }

    /// DescribeAddresses filtered by `network-interface-id` (an unknown ENI matches none).
    fn addresses_on(&self, eni_id: &str) -> Vec<Address> {
        self.addresses
            .iter()
            .filter(|(_, a)| a.association.as_ref().is_some_and(|(_, e)| e == eni_id))
            .map(|(id, a)| a.view(id))
            .collect()
    }

    /// AssociateAddress with AllowReassociation: a new association id each time.
    fn associate_address(&mut self, allocation_id: &str, eni_id: &str) -> Answer<String> {
        self.address(allocation_id)?;
        self.eni(eni_id)?;
        // The ENI's private address holds one Elastic IP: one there before is disassociated.
        for (id, eip) in self.addresses.iter_mut() {
            if id != allocation_id && eip.association.as_ref().is_some_and(|(_, e)| e == eni_id) {
                eip.association = None;
            }
        }
        let association = format!("eipassoc-{:017x}", self.next_id());
        if let Some(eip) = self.addresses.get_mut(allocation_id) {
            eip.association = Some((association.clone(), eni_id.to_string()));
        }
        Ok(association)
    }

    fn disassociate_address(&mut self, association_id: &str) -> Answer<()> {
        let eip = self
            .addresses
            .values_mut()
            .find(|a| {
                a.association
                    .as_ref()
                    .is_some_and(|(id, _)| id == association_id)
            })
            .ok_or_else(|| {
                ec2_error(
                    "InvalidAssociationID.NotFound",
                    format!("The association ID '{association_id}' does not exist"),
                )
            })?;
        eip.association = None;
        Ok(())
    }
}

/// What a DryRun check of `action` names, as [`crate::Ec2Cloud::may`] sends it.
fn dry_run_detail(action: Action, probe: &Probe) -> String {
    match action {
        Action::DescribeNetworkInterfaces | Action::DescribeAddresses => String::new(),
        Action::DescribeInstances => probe.instance_id.clone(),
        Action::CreateNetworkInterface => probe.subnet().to_string(),
        Action::AttachNetworkInterface => format!("{} {} 1", probe.eni(), probe.instance_id),
        Action::ModifyNetworkInterfaceAttribute
        | Action::CreateTags
        | Action::DeleteNetworkInterface => probe.eni().to_string(),
        Action::AssociateAddress => format!("{} {}", probe.allocation_id, probe.eni()),
        Action::DisassociateAddress => probe.association().to_string(),
        Action::DetachNetworkInterface => probe.attachment().to_string(),
    }
}

/// EC2 in memory; see the module documentation for what it models.
#[derive(Debug)]
pub struct FakeCloud {
    world: Mutex<World>,
    limits: Limits,
}

impl Default for FakeCloud {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeCloud {
    /// An empty region, with `Ec2Cloud`'s default retry and poll bounds.
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// An empty region; `limits.max_attempts` bounds the retries of throttling and 5xx and
    /// `limits.poll_attempts` the read-backs, as for `Ec2Cloud` (nothing sleeps).
    pub fn with_limits(limits: Limits) -> Self {
        FakeCloud {
            world: Mutex::new(World::default()),
            limits,
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An instance, with its primary interface at device index 0.
    pub fn add_instance(&self, instance_id: &str) {
        self.world().instances.insert(instance_id.to_string());
    }

    /// A subnet: `cidr` is its network address and a prefix length from 16 to 28, as
    /// CreateSubnet requires.
    pub fn add_subnet(&self, subnet_id: &str, cidr: &str) -> Result<(), CloudError> {
        let subnet = Subnet::parse(cidr).ok_or_else(|| {
            CloudError::new(
                format!("adding subnet {subnet_id}"),
                Some("InvalidParameterValue".into()),
                format!("'{cidr}' is not a network address with a prefix from /16 to /28"),
            )
        })?;
        self.world().subnets.insert(subnet_id.to_string(), subnet);
        Ok(())
    }

    /// An allocated Elastic IP, not associated.
    pub fn add_address(&self, allocation_id: &str, public_ip: &str) {
        self.world().addresses.insert(
            allocation_id.to_string(),
            Eip {
                public_ip: public_ip.to_string(),
                association: None,
            },
        );
    }

    /// The next `count` requests of `action` (DryRun checks included) fail with EC2 error
    /// `code`. A transient code (`RequestLimitExceeded`, `InternalError`, ...) is retried
    /// as the SDK does, so the caller sees it only once `count` reaches the retry bound.
    pub fn fail_next(&self, action: Action, count: u32, code: &str) {
        self.world().faults.push(Fault {
            action,
            remaining: count,
            code: code.to_string(),
        });
    }

    /// This identity may no longer call `action`: its DryRun check answers "denied" and its
    /// requests fail with `UnauthorizedOperation`.
    pub fn deny(&self, action: Action) {
        let mut world = self.world();
        if !world.denied.contains(&action) {
            world.denied.push(action);
        }
    }

    /// Every EC2 request so far, one per attempt: the API name, then what it names
    /// ("AttachNetworkInterface eni-… i-… 1", "AssociateAddress DryRun eipalloc-… eni-…").
    pub fn calls(&self) -> Vec<String> {
        self.world().calls.clone()
    }

    /// How many requests of `action` were made (attempts and DryRun checks included).
    pub fn count(&self, action: Action) -> usize {
        let name = api_name(action);
        self.world()
            .calls
            .iter()
            .filter(|c| c.split(' ').next() == Some(name))
            .count()
    }

    pub fn clear_calls(&self) {
        self.world().calls.clear();
    }

    /// Every ENI that exists, oldest first, hakit's or not.
    pub fn enis(&self) -> Vec<Eni> {
        self.world().enis.values().map(NetIf::view).collect()
    }

    /// All tags of an ENI, or `None` when it does not exist.
    pub fn tags_of(&self, eni_id: &str) -> Option<BTreeMap<String, String>> {
        self.world().enis.get(eni_id).map(|n| n.tags.clone())
    }

    /// An ENI's source/destination check (EC2's default is on), or `None` when it does not
    /// exist.
    pub fn source_dest_check_of(&self, eni_id: &str) -> Option<bool> {
        self.world().enis.get(eni_id).map(|n| n.source_dest_check)
    }

    /// An Elastic IP and its association, or `None` when it is not allocated.
    pub fn address_of(&self, allocation_id: &str) -> Option<Address> {
        self.world()
            .addresses
            .get(allocation_id)
            .map(|a| a.view(allocation_id))
    }

    /// One EC2 request: recorded; then failed as injected (a transient code retried as the
    /// SDK's standard mode does), refused when denied, or answered.
    fn request<T>(
        &self,
        action: Action,
        detail: &str,
        op: &str,
        answer: impl FnOnce(&mut World) -> Answer<T>,
    ) -> Result<T, CloudError> {
        let mut world = self.world();
        admit(&mut world, action, detail, op, false, &self.limits)?;
        answer(&mut world).map_err(|e| CloudError::new(op, Some(e.code.into()), e.message))
    }

    fn describe_eni(&self, eni_id: &str) -> Result<Option<Eni>, CloudError> {
        let op = format!("describing ENI {eni_id}");
        match self.request(Action::DescribeNetworkInterfaces, eni_id, &op, |w| {
            w.describe_network_interface(eni_id)
        }) {
            Ok(eni) => Ok(Some(eni)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn poll<T>(
        &self,
        what: &str,
        mut check: impl FnMut() -> Result<Option<T>, CloudError>,
    ) -> Result<T, CloudError> {
        for _ in 0..self.limits.poll_attempts {
            if let Some(done) = check()? {
                return Ok(done);
            }
        }
        Err(CloudError::new(
            what,
            None,
            format!(
                "gave up after {} checks {:?} apart",
                self.limits.poll_attempts, self.limits.poll_interval
            ),
        ))
    }

    fn next_device_index(&self, instance_id: &str) -> Result<i32, CloudError> {
        let op = format!("describing instance {instance_id}");
        let used = self.request(Action::DescribeInstances, instance_id, &op, |w| {
            w.describe_instance(instance_id)
        })?;
        // As Ec2Cloud: one past the highest index in use.
        Ok(used.into_iter().max().unwrap_or(0) + 1)
    }
}

/// Record one request (one line per attempt) and decide whether it goes through.
fn admit(
    world: &mut World,
    action: Action,
    detail: &str,
    op: &str,
    dry_run: bool,
    limits: &Limits,
) -> Result<(), CloudError> {
    let mut line = api_name(action).to_string();
    if dry_run {
        line.push_str(" DryRun");
    }
    if !detail.is_empty() {
        line.push(' ');
        line.push_str(detail);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        world.calls.push(line.clone());
        let Some(code) = world.take_fault(action) else {
            break;
        };
        let e = CloudError::new(op, Some(code), "injected by FakeCloud::fail_next");
        if !(e.is_transient() && attempt < limits.max_attempts) {
            return Err(e);
        }
    }
    if world.denied.contains(&action) {
        return Err(CloudError::new(
            op,
            Some("UnauthorizedOperation".into()),
            "You are not authorized to perform this operation.",
        ));
    }
    if dry_run {
        return Err(CloudError::new(
            op,
            Some("DryRunOperation".into()),
            "Request would have succeeded, but DryRun flag is set.",
        ));
    }
    Ok(())
}

impl Cloud for FakeCloud {
    fn find_enis(&self, cluster: &str, node: Option<&str>) -> Result<Vec<Eni>, CloudError> {
        let mut filters = vec![(TAG_CLUSTER, cluster)];
        if let Some(node) = node {
            filters.push((TAG_NODE, node));
        }
        let detail = filters
            .iter()
            .map(|(k, v)| format!("tag:{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let op = format!("looking up hakit's ENIs of cluster {cluster}");
        self.request(Action::DescribeNetworkInterfaces, &detail, &op, |w| {
            Ok(w.describe_network_interfaces_tagged(&filters))
        })
    }

    fn create_eni(&self, req: &NewEni) -> Result<Eni, CloudError> {
        let op = format!(
            "creating the dedicated ENI of node {} in {}",
            req.node, req.subnet_id
        );
        let detail = format!("{} token={}", req.subnet_id, req.client_token);
        self.request(Action::CreateNetworkInterface, &detail, &op, |w| {
            w.create_network_interface(req)
        })
    }

    fn attach_eni(&self, eni_id: &str, instance_id: &str) -> Result<Attachment, CloudError> {
        if let Some(Eni {
            attachment: Some(a),
            ..
        }) = self.describe_eni(eni_id)?
        {
            if a.instance_id.as_deref() == Some(instance_id) && a.status == "attached" {
                return Ok(a);
            }
        }
        let index = self.next_device_index(instance_id)?;
        let op = format!("attaching ENI {eni_id} to {instance_id} at device index {index}");
        self.request(
            Action::AttachNetworkInterface,
            &format!("{eni_id} {instance_id} {index}"),
            &op,
            |w| w.attach_network_interface(eni_id, instance_id, index),
        )?;
        self.poll(&format!("waiting for ENI {eni_id} to be attached"), || {
            Ok(self
                .describe_eni(eni_id)?
                .and_then(|e| e.attachment)
                .filter(|a| a.status == "attached"))
        })
    }

    fn detach_eni(&self, eni_id: &str) -> Result<(), CloudError> {
        let Some(Eni {
            attachment: Some(a),
            ..
        }) = self.describe_eni(eni_id)?
        else {
            return Ok(());
        };
        let op = format!("detaching ENI {eni_id} ({})", a.id);
        match self.request(Action::DetachNetworkInterface, &a.id, &op, |w| {
            w.detach_network_interface(&a.id)
        }) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        self.poll(&format!("waiting for ENI {eni_id} to be detached"), || {
            Ok(match self.describe_eni(eni_id)? {
                None => Some(()),
                Some(e) => e
                    .attachment
                    .filter(|a| a.status != "detached")
                    .is_none()
                    .then_some(()),
            })
        })
    }

    fn delete_eni(&self, eni_id: &str) -> Result<(), CloudError> {
        let op = format!("deleting ENI {eni_id}");
        self.poll(&op, || {
            match self.request(Action::DeleteNetworkInterface, eni_id, &op, |w| {
                w.delete_network_interface(eni_id)
            }) {
                Ok(()) => Ok(Some(())),
                Err(e) if e.is_not_found() => Ok(Some(())),
                // Ec2Cloud waits here for a detach still finishing.
                Err(e) if e.is_code("InvalidNetworkInterface.InUse") => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn set_source_dest_check(&self, eni_id: &str, enabled: bool) -> Result<(), CloudError> {
        let op = format!("setting source/dest check of {eni_id} to {enabled}");
        self.request(
            Action::ModifyNetworkInterfaceAttribute,
            &format!("{eni_id} SourceDestCheck={enabled}"),
            &op,
            |w| {
                w.eni_mut(eni_id)?.source_dest_check = enabled;
                Ok(())
            },
        )
    }

    fn address(&self, allocation_id: &str) -> Result<Address, CloudError> {
        let op = format!("describing Elastic IP {allocation_id}");
        self.request(Action::DescribeAddresses, allocation_id, &op, |w| {
            w.address(allocation_id).map(|a| a.view(allocation_id))
        })
    }

    fn associate_eip(&self, allocation_id: &str, eni_id: &str) -> Result<Address, CloudError> {
        let op = format!("associating Elastic IP {allocation_id} with {eni_id}");
        self.request(
            Action::AssociateAddress,
            &format!("{allocation_id} {eni_id}"),
            &op,
            |w| w.associate_address(allocation_id, eni_id),
        )?;
        let mut last = None;
        let result = self.poll(
            &format!("reading back the association of {allocation_id}"),
            || {
                let a = self.address(allocation_id)?;
                let ours = a.network_interface_id.as_deref() == Some(eni_id);
                last = Some(a.clone());
                Ok(ours.then_some(a))
            },
        );
        result.map_err(|e| match last.and_then(|a| a.network_interface_id) {
            Some(other) => CloudError::new(op, None, format!("EC2 accepted the association but the address is on {other}, not {eni_id}: another node took it")),
            None => e,
        })
    }

    fn addresses_on(&self, eni_id: &str) -> Result<Vec<Address>, CloudError> {
        let op = format!("listing the Elastic IPs on {eni_id}");
        self.request(
            Action::DescribeAddresses,
            &format!("network-interface-id={eni_id}"),
            &op,
            |w| Ok(w.addresses_on(eni_id)),
        )
    }

    fn disassociate_eip(&self, association_id: &str) -> Result<(), CloudError> {
        let op = format!("disassociating {association_id}");
        match self.request(Action::DisassociateAddress, association_id, &op, |w| {
            w.disassociate_address(association_id)
        }) {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn tag_eni(&self, eni_id: &str, key: &str, value: &str) -> Result<(), CloudError> {
        let op = format!("tagging {eni_id} with {key}={value}");
        self.request(
            Action::CreateTags,
            &format!("{eni_id} {key}={value}"),
            &op,
            |w| {
                w.eni_mut(eni_id)?
                    .tags
                    .insert(key.to_string(), value.to_string());
                Ok(())
            },
        )
    }

    fn may(&self, action: Action, probe: &Probe) -> Result<bool, CloudError> {
        let op = format!("checking {} with DryRun", action.iam_name());
        let detail = dry_run_detail(action, probe);
        let result = admit(&mut self.world(), action, &detail, &op, true, &self.limits);
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.is_code("DryRunOperation") => Ok(true),
            Err(e) if e.is_code("UnauthorizedOperation") => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I1: &str = "i-0000000000000000a";
    const I2: &str = "i-0000000000000000b";
    const S1: &str = "subnet-00000000000000001";
    const S2: &str = "subnet-00000000000000002";
    const EIP: &str = "eipalloc-0000000000000000e";
    const EIP2: &str = "eipalloc-0000000000000000f";

    fn cloud() -> FakeCloud {
        let c = FakeCloud::new();
        c.add_instance(I1);
        c.add_instance(I2);
        c.add_subnet(S1, "192.0.2.64/26").expect("subnet");
        c.add_subnet(S2, "192.0.2.128/26").expect("subnet");
        c.add_address(EIP, "198.51.100.7");
        c.add_address(EIP2, "198.51.100.8");
        c
    }

    fn new_eni(cluster: &str, node: &str, token: &str) -> NewEni {
        NewEni {
            cluster: cluster.into(),
            node: node.into(),
            run: "run1".into(),
            subnet_id: S1.into(),
            security_group_ids: vec![],
            client_token: token.into(),
        }
    }

    fn create(c: &FakeCloud, cluster: &str, node: &str) -> Eni {
        c.create_eni(&new_eni(cluster, node, &format!("{cluster}-{node}")))
            .expect("create")
    }

    fn code(e: &CloudError) -> &str {
        e.code.as_deref().unwrap_or("")
    }

    #[test]
    fn it_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<FakeCloud>();
    }

    #[test]
    fn add_subnet_wants_a_network_address_from_16_to_28() {
        let c = FakeCloud::new();
        for bad in [
            "192.0.2.65/26",
            "192.0.2.0/29",
            "10.0.0.0/8",
            "nonsense",
            "1.2.3.4",
        ] {
            let e = c.add_subnet("subnet-x", bad).expect_err(bad);
            assert_eq!(code(&e), "InvalidParameterValue", "{bad}");
        }
        c.add_subnet("subnet-x", "10.0.0.0/16").expect("a /16");
    }

    #[test]
    fn create_eni_gives_ids_a_mac_an_address_from_the_subnet_and_the_tags() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        let b = create(&c, "c1", "n2");
        assert!(
            a.id.starts_with("eni-") && a.id.len() == "eni-".len() + 17,
            "{a:?}"
        );
        assert_ne!(a.id, b.id);
        let mac = a.mac.clone().expect("mac");
        assert_eq!(mac.split(':').count(), 6, "{mac}");
        assert_ne!(a.mac, b.mac);
        // 192.0.2.64/26: .64-.67 and .127 are AWS's.
        assert_eq!(a.private_ip.as_deref(), Some("192.0.2.68"));
        assert_eq!(b.private_ip.as_deref(), Some("192.0.2.69"));
        assert_eq!(a.subnet_id.as_deref(), Some(S1));
        assert_eq!(a.node.as_deref(), Some("n1"));
        assert_eq!(a.attachment, None);
        let tags = c.tags_of(&a.id).expect("tags");
        assert_eq!(tags.get(TAG_CLUSTER).map(String::as_str), Some("c1"));
        assert_eq!(tags.get(TAG_RUN).map(String::as_str), Some("run1"));
        assert_eq!(tags.get("Name").map(String::as_str), Some("hakit-c1-n1"));
        assert_eq!(c.source_dest_check_of(&a.id), Some(true), "EC2's default");
    }

    #[test]
    fn create_eni_in_an_unknown_subnet_is_not_found() {
        let c = cloud();
        let mut req = new_eni("c1", "n1", "t");
        req.subnet_id = "subnet-nope".into();
        let e = c.create_eni(&req).expect_err("no such subnet");
        assert_eq!(code(&e), "InvalidSubnetID.NotFound");
        assert!(
            e.op.contains("creating the dedicated ENI of node n1"),
            "{e}"
        );
        assert!(c.enis().is_empty());
    }

    #[test]
    fn a_subnet_runs_out_of_addresses_and_a_delete_frees_one() {
        let c = FakeCloud::new();
        c.add_subnet(S1, "192.0.2.0/28").expect("subnet");
        // 16 addresses, 5 reserved.
        let made: Vec<Eni> = (0..11)
            .map(|i| {
                c.create_eni(&new_eni("c", &format!("n{i}"), ""))
                    .expect("create")
            })
            .collect();
        assert_eq!(made[10].private_ip.as_deref(), Some("192.0.2.14"));
        let e = c
            .create_eni(&new_eni("c", "n11", ""))
            .expect_err("subnet full");
        assert_eq!(code(&e), "InsufficientFreeAddressesInSubnet");
        c.delete_eni(&made[3].id).expect("delete");
        let again = c.create_eni(&new_eni("c", "n11", "")).expect("create");
        assert_eq!(again.private_ip, made[3].private_ip);
    }

    #[test]
    fn create_eni_is_idempotent_per_client_token() {
        let c = cloud();
        let first = c.create_eni(&new_eni("c1", "n1", "tok")).expect("create");
        let again = c.create_eni(&new_eni("c1", "n1", "tok")).expect("retry");
        assert_eq!(again.id, first.id);
        assert_eq!(c.enis().len(), 1, "one ENI for one token");
        // The same token for a different request is refused, as EC2 does.
        let mut other = new_eni("c1", "n1", "tok");
        other.subnet_id = S2.into();
        let e = c.create_eni(&other).expect_err("mismatch");
        assert_eq!(code(&e), "IdempotentParameterMismatch");
        // A new token makes a new ENI.
        let second = c.create_eni(&new_eni("c1", "n1", "tok2")).expect("create");
        assert_ne!(second.id, first.id);
        // A retry after the delete returns the original result and creates nothing.
        c.delete_eni(&first.id).expect("delete");
        let late = c
            .create_eni(&new_eni("c1", "n1", "tok"))
            .expect("late retry");
        assert_eq!(late.id, first.id);
        assert_eq!(c.enis().len(), 1);
    }

    #[test]
    fn find_enis_matches_the_cluster_and_node_tags() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        let b = create(&c, "c1", "n2");
        create(&c, "c2", "n1");
        let ids = |v: Vec<Eni>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(
            ids(c.find_enis("c1", None).expect("find")),
            vec![a.id.clone(), b.id.clone()]
        );
        assert_eq!(
            ids(c.find_enis("c1", Some("n1")).expect("find")),
            vec![a.id.clone()]
        );
        assert!(c.find_enis("c3", None).expect("find").is_empty());
        assert!(c.find_enis("c1", Some("n3")).expect("find").is_empty());
    }

    #[test]
    fn tag_eni_sets_one_tag_and_find_reports_the_state() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.tag_eni(&a.id, TAG_STATE, "MASTER").expect("tag");
        c.tag_eni(&a.id, TAG_STATE, "BACKUP").expect("retag");
        let found = c.find_enis("c1", Some("n1")).expect("find");
        assert_eq!(found[0].state.as_deref(), Some("BACKUP"));
        assert_eq!(
            c.tags_of(&a.id)
                .expect("tags")
                .get(TAG_NODE)
                .map(String::as_str),
            Some("n1"),
            "the other tags stay"
        );
        let e = c
            .tag_eni("eni-00000000000000099", TAG_STATE, "MASTER")
            .expect_err("unknown");
        assert_eq!(code(&e), "InvalidNetworkInterfaceID.NotFound");
    }

    #[test]
    fn attach_picks_one_past_the_highest_device_index_like_ec2cloud() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        let b = create(&c, "c1", "n2");
        let d = create(&c, "c1", "n3");
        let at = c.attach_eni(&a.id, I1).expect("attach");
        assert!(at.id.starts_with("eni-attach-"), "{at:?}");
        assert_eq!(at.device_index, Some(1));
        assert_eq!(at.instance_id.as_deref(), Some(I1));
        assert_eq!(at.status, "attached");
        assert_eq!(
            c.attach_eni(&b.id, I1).expect("attach").device_index,
            Some(2)
        );
        // With index 1 free again and 2 in use, Ec2Cloud asks for 3.
        c.detach_eni(&a.id).expect("detach");
        assert_eq!(
            c.attach_eni(&d.id, I1).expect("attach").device_index,
            Some(3)
        );
        // Another instance starts again at 1.
        assert_eq!(
            c.attach_eni(&a.id, I2).expect("attach").device_index,
            Some(1)
        );
    }

    #[test]
    fn attach_makes_ec2cloud_s_requests_and_again_only_a_describe() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.clear_calls();
        let first = c.attach_eni(&a.id, I1).expect("attach");
        assert_eq!(
            c.calls(),
            vec![
                format!("DescribeNetworkInterfaces {}", a.id),
                format!("DescribeInstances {I1}"),
                format!("AttachNetworkInterface {} {I1} 1", a.id),
                format!("DescribeNetworkInterfaces {}", a.id),
            ]
        );
        c.clear_calls();
        let again = c.attach_eni(&a.id, I1).expect("already attached");
        assert_eq!(again, first);
        assert_eq!(
            c.calls(),
            vec![format!("DescribeNetworkInterfaces {}", a.id)]
        );
    }

    #[test]
    fn attaching_an_eni_in_use_elsewhere_is_ec2_s_in_use_error() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.attach_eni(&a.id, I1).expect("attach");
        let e = c.attach_eni(&a.id, I2).expect_err("in use on I1");
        assert_eq!(code(&e), "InvalidNetworkInterface.InUse");
        assert!(
            e.op.starts_with(&format!("attaching ENI {} to {I2}", a.id)),
            "{e}"
        );
        let now = c.enis().remove(0).attachment.expect("still attached");
        assert_eq!(now.instance_id.as_deref(), Some(I1));
    }

    #[test]
    fn attach_of_an_unknown_eni_or_instance_is_not_found() {
        let c = cloud();
        let e = c
            .attach_eni("eni-00000000000000099", I1)
            .expect_err("no ENI");
        assert_eq!(code(&e), "InvalidNetworkInterfaceID.NotFound");
        let a = create(&c, "c1", "n1");
        let e = c.attach_eni(&a.id, "i-nope").expect_err("no instance");
        assert_eq!(code(&e), "InvalidInstanceID.NotFound");
    }

    #[test]
    fn a_taken_device_index_is_invalid() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        let b = create(&c, "c1", "n2");
        c.attach_eni(&a.id, I1).expect("attach");
        let mut w = c.world();
        assert_eq!(
            w.attach_network_interface(&b.id, I1, 1)
                .expect_err("taken")
                .code,
            "InvalidParameterValue"
        );
        assert_eq!(
            w.attach_network_interface(&b.id, I1, 0)
                .expect_err("primary")
                .code,
            "InvalidParameterValue"
        );
    }

    #[test]
    fn detach_of_a_detached_or_missing_eni_is_already_done() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.attach_eni(&a.id, I1).expect("attach");
        c.detach_eni(&a.id).expect("detach");
        assert_eq!(c.enis()[0].attachment, None);
        c.clear_calls();
        c.detach_eni(&a.id).expect("already detached");
        c.detach_eni("eni-00000000000000099").expect("no such ENI");
        assert_eq!(
            c.count(Action::DetachNetworkInterface),
            0,
            "{:?}",
            c.calls()
        );
        // EC2's answer to a stale attachment id is NotFound, which Ec2Cloud treats as done.
        let e = c
            .world()
            .detach_network_interface("eni-attach-0")
            .expect_err("gone");
        assert_eq!(e.code, "InvalidAttachmentID.NotFound");
    }

    #[test]
    fn a_not_found_describe_during_detach_means_already_detached() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.attach_eni(&a.id, I1).expect("attach");
        c.fail_next(
            Action::DescribeNetworkInterfaces,
            1,
            "InvalidNetworkInterfaceID.NotFound",
        );
        c.detach_eni(&a.id).expect("as Ec2Cloud: gone is detached");
        assert!(c.enis()[0].attachment.is_some(), "nothing was detached");
    }

    #[test]
    fn delete_of_a_missing_eni_is_already_done_and_of_an_attached_one_waits_then_fails() {
        let c = FakeCloud::with_limits(Limits {
            poll_attempts: 3,
            ..Limits::default()
        });
        c.add_instance(I1);
        c.add_subnet(S1, "192.0.2.64/26").expect("subnet");
        c.delete_eni("eni-00000000000000099")
            .expect("missing is deleted");
        let a = create(&c, "c1", "n1");
        c.attach_eni(&a.id, I1).expect("attach");
        // EC2 answers InUse...
        let e = c
            .world()
            .delete_network_interface(&a.id)
            .expect_err("in use");
        assert_eq!(e.code, "InvalidNetworkInterface.InUse");
        // ...which Ec2Cloud takes for a detach still finishing, and asks again, bounded.
        c.clear_calls();
        let e = c.delete_eni(&a.id).expect_err("still attached");
        assert_eq!(e.op, format!("deleting ENI {}", a.id));
        assert!(e.message.starts_with("gave up after 3 checks"), "{e}");
        assert_eq!(c.count(Action::DeleteNetworkInterface), 3);
        assert_eq!(c.enis().len(), 1, "not deleted");
        c.detach_eni(&a.id).expect("detach");
        c.delete_eni(&a.id).expect("delete");
        assert!(c.enis().is_empty());
        c.delete_eni(&a.id).expect("deleted twice");
    }

    #[test]
    fn deleting_an_eni_frees_its_elastic_ip_which_stays_allocated() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.associate_eip(EIP, &a.id).expect("associate");
        c.delete_eni(&a.id).expect("delete");
        let now = c.address_of(EIP).expect("still allocated");
        assert_eq!(now.network_interface_id, None);
        assert_eq!(now.association_id, None);
    }

    #[test]
    fn address_of_an_unknown_allocation_is_not_found() {
        let c = cloud();
        let e = c.address("eipalloc-nope").expect_err("unknown");
        assert_eq!(code(&e), "InvalidAllocationID.NotFound");
        assert_eq!(e.op, "describing Elastic IP eipalloc-nope");
        let a = c.address(EIP).expect("known");
        assert_eq!(a.public_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(a.association_id, None);
        assert_eq!(a.network_interface_id, None);
    }

    #[test]
    fn associate_moves_the_address_with_a_new_association_each_time() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        let b = create(&c, "c1", "n2");
        let on_a = c.associate_eip(EIP, &a.id).expect("associate");
        assert_eq!(on_a.network_interface_id.as_deref(), Some(a.id.as_str()));
        let first = on_a.association_id.clone().expect("association");
        assert!(first.starts_with("eipassoc-"), "{first}");
        let on_b = c.associate_eip(EIP, &b.id).expect("reassociate");
        assert_eq!(on_b.network_interface_id.as_deref(), Some(b.id.as_str()));
        assert_ne!(on_b.association_id.as_deref(), Some(first.as_str()));
        assert!(c.addresses_on(&a.id).expect("on a").is_empty());
        assert_eq!(c.addresses_on(&b.id).expect("on b"), vec![on_b.clone()]);
        let again = c.associate_eip(EIP, &b.id).expect("same ENI");
        assert_ne!(again.association_id, on_b.association_id);
        // The stale association is gone: disassociating it is already done and changes
        // nothing.
        c.disassociate_eip(&first).expect("stale");
        assert_eq!(c.address_of(EIP), Some(again));
    }

    #[test]
    fn a_second_elastic_ip_on_an_eni_displaces_the_first() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.associate_eip(EIP, &a.id).expect("associate");
        c.associate_eip(EIP2, &a.id).expect("associate another");
        let on: Vec<String> = c
            .addresses_on(&a.id)
            .expect("on a")
            .into_iter()
            .map(|x| x.allocation_id)
            .collect();
        assert_eq!(on, vec![EIP2.to_string()]);
        assert_eq!(c.address_of(EIP).and_then(|x| x.network_interface_id), None);
    }

    #[test]
    fn associate_with_an_unknown_eni_or_allocation_is_not_found() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        let e = c
            .associate_eip(EIP, "eni-00000000000000099")
            .expect_err("no ENI");
        assert_eq!(code(&e), "InvalidNetworkInterfaceID.NotFound");
        let e = c.associate_eip("eipalloc-nope", &a.id).expect_err("no EIP");
        assert_eq!(code(&e), "InvalidAllocationID.NotFound");
        assert_eq!(c.address_of(EIP).and_then(|x| x.association_id), None);
    }

    #[test]
    fn disassociate_never_releases_and_a_missing_association_is_already_gone() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        let on = c.associate_eip(EIP, &a.id).expect("associate");
        let association = on.association_id.expect("association");
        c.disassociate_eip(&association).expect("disassociate");
        let now = c.address_of(EIP).expect("still allocated");
        assert_eq!(now.network_interface_id, None);
        c.disassociate_eip(&association).expect("again");
        c.disassociate_eip("eipassoc-nope").expect("unknown");
        let e = c
            .world()
            .disassociate_address("eipassoc-nope")
            .expect_err("EC2's answer");
        assert_eq!(e.code, "InvalidAssociationID.NotFound");
    }

    #[test]
    fn source_dest_check_is_set_on_the_eni() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.set_source_dest_check(&a.id, false).expect("off");
        assert_eq!(c.source_dest_check_of(&a.id), Some(false));
        c.set_source_dest_check(&a.id, true).expect("on");
        assert_eq!(c.source_dest_check_of(&a.id), Some(true));
        let e = c
            .set_source_dest_check("eni-00000000000000099", false)
            .expect_err("unknown");
        assert_eq!(code(&e), "InvalidNetworkInterfaceID.NotFound");
    }

    #[test]
    fn may_allows_everything_but_what_the_test_denied() {
        let c = cloud();
        let probe = Probe::default();
        for action in Action::ALL {
            assert!(c.may(action, &probe).expect("dry run"), "{action:?}");
        }
        c.deny(Action::AssociateAddress);
        assert!(!c.may(Action::AssociateAddress, &probe).expect("dry run"));
        assert!(c.may(Action::DisassociateAddress, &probe).expect("dry run"));
        assert_eq!(
            c.calls().last().map(String::as_str),
            Some("DisassociateAddress DryRun eipassoc-00000000000000000")
        );
        // A denied action's real request fails too, and changes nothing.
        let a = create(&c, "c1", "n1");
        let e = c.associate_eip(EIP, &a.id).expect_err("denied");
        assert_eq!(code(&e), "UnauthorizedOperation");
        assert_eq!(c.address_of(EIP).and_then(|x| x.association_id), None);
    }

    #[test]
    fn a_throttled_request_is_retried_like_the_sdk_and_fails_at_the_bound() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.clear_calls();
        c.fail_next(Action::AssociateAddress, 4, "RequestLimitExceeded");
        c.associate_eip(EIP, &a.id)
            .expect("the fifth attempt succeeds");
        assert_eq!(c.count(Action::AssociateAddress), 5);
        c.clear_calls();
        c.fail_next(Action::AssociateAddress, 5, "RequestLimitExceeded");
        let e = c.associate_eip(EIP, &a.id).expect_err("throttled 5 times");
        assert_eq!(code(&e), "RequestLimitExceeded");
        assert_eq!(e.op, format!("associating Elastic IP {EIP} with {}", a.id));
        assert_eq!(c.count(Action::AssociateAddress), 5);
        // The faults are used up.
        c.associate_eip(EIP, &a.id).expect("then it works");
    }

    #[test]
    fn a_non_transient_fault_fails_once_and_only_its_action() {
        let c = cloud();
        let a = create(&c, "c1", "n1");
        c.fail_next(Action::AttachNetworkInterface, 1, "IncorrectState");
        c.set_source_dest_check(&a.id, false)
            .expect("another action");
        c.clear_calls();
        let e = c.attach_eni(&a.id, I1).expect_err("injected");
        assert_eq!(code(&e), "IncorrectState");
        assert_eq!(c.count(Action::AttachNetworkInterface), 1, "not retried");
        assert_eq!(c.enis()[0].attachment, None, "nothing attached");
        c.attach_eni(&a.id, I1).expect("then it works");
    }

    #[test]
    fn with_one_attempt_a_transient_fault_reaches_the_caller() {
        let c = FakeCloud::with_limits(Limits {
            max_attempts: 1,
            ..Limits::default()
        });
        c.fail_next(Action::DescribeNetworkInterfaces, 1, "Unavailable");
        let e = c.find_enis("c1", None).expect_err("not retried");
        assert!(e.is_transient(), "{e}");
        assert!(c.find_enis("c1", None).expect("then").is_empty());
    }

    #[test]
    fn may_sees_injected_faults_as_ec2_s_other_answers() {
        let c = cloud();
        c.fail_next(Action::CreateTags, 1, "InvalidNetworkInterfaceID.NotFound");
        let e = c
            .may(Action::CreateTags, &Probe::default())
            .expect_err("neither allowed nor denied");
        assert!(e.is_not_found(), "{e}");
    }
}
