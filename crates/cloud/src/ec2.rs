//! [`Cloud`] on EC2 through aws-sdk-ec2. Retries with jittered exponential backoff on
//! throttling and 5xx are the SDK's standard retry mode, bounded by attempts and by an
//! overall operation timeout; waits for eventual consistency are bounded polls.

use crate::cloud::{
    Action, Address, Attachment, Cloud, Eni, NewEni, Probe, TAG_CLUSTER, TAG_NODE, TAG_RUN,
    TAG_STATE,
};
use crate::connect::{load_config, sdk_err, Endpoint, Limits};
use crate::error::CloudError;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, NetworkInterface, ResourceType, Tag, TagSpecification,
};
use aws_sdk_ec2::Client;

pub struct Ec2Cloud {
    rt: tokio::runtime::Runtime,
    client: Client,
    limits: Limits,
}

/// Some EC2 implementations send an empty element for "none".
fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

fn tag(n: &NetworkInterface, key: &str) -> Option<String> {
    n.tag_set()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_string)
}

/// The tags a dedicated ENI gets at create time (the same for the DryRun check, so that a
/// policy conditioned on `aws:RequestTag/hakit:cluster` is tested as setup will use it).
fn eni_tags(cluster: &str, node: &str, run: &str) -> TagSpecification {
    let mut spec = TagSpecification::builder().resource_type(ResourceType::NetworkInterface);
    for (k, v) in [(TAG_CLUSTER, cluster), (TAG_NODE, node), (TAG_RUN, run)] {
        spec = spec.tags(Tag::builder().key(k).value(v).build());
    }
    spec.tags(
        Tag::builder()
            .key("Name")
            .value(format!("hakit-{cluster}-{node}"))
            .build(),
    )
    .build()
}

fn eni_from(n: &NetworkInterface) -> Eni {
    let state = tag(n, TAG_STATE).map(|v| crate::cloud::parse_state_tag(&v));
    Eni {
        id: n.network_interface_id().unwrap_or_default().to_string(),
        node: tag(n, TAG_NODE),
        state_at: state.as_ref().and_then(|(_, at)| *at),
        state: state.map(|(s, _)| s),
        mac: n.mac_address().map(str::to_string),
        private_ip: n.private_ip_address().map(str::to_string),
        subnet_id: n.subnet_id().map(str::to_string),
        attachment: n.attachment().map(|a| Attachment {
            id: a.attachment_id().unwrap_or_default().to_string(),
            instance_id: a.instance_id().map(str::to_string),
            device_index: a.device_index(),
            status: a
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
        }),
    }
}

impl Ec2Cloud {
    /// A client for `endpoint` (region, endpoint override, credentials; see [`Endpoint`]).
    pub fn connect(endpoint: &Endpoint, limits: Limits) -> Result<Self, CloudError> {
        let (rt, config) = load_config(endpoint, &limits)?;
        if config.region().is_none() {
            return Err(CloudError::new(
                "loading the AWS configuration",
                None,
                "no region: set aws.region in the cluster file or AWS_REGION",
            ));
        }
        Ok(Ec2Cloud {
            rt,
            client: Client::new(&config),
            limits,
        })
    }

    fn describe_eni(&self, eni_id: &str) -> Result<Option<Eni>, CloudError> {
        let op = format!("describing ENI {eni_id}");
        match self.rt.block_on(
            self.client
                .describe_network_interfaces()
                .network_interface_ids(eni_id)
                .send(),
        ) {
            Ok(out) => Ok(out.network_interfaces().first().map(eni_from)),
            Err(e) => {
                let e = sdk_err(&op, e);
                if e.is_not_found() {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
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
            std::thread::sleep(self.limits.poll_interval);
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
        let out = self
            .rt
            .block_on(
                self.client
                    .describe_instances()
                    .instance_ids(instance_id)
                    .send(),
            )
            .map_err(|e| sdk_err(&op, e))?;
        let used = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .flat_map(|i| i.network_interfaces())
            .filter_map(|n| n.attachment().and_then(|a| a.device_index()))
            .max()
            .unwrap_or(0);
        Ok(used + 1)
    }
}

impl Cloud for Ec2Cloud {
    fn find_enis(&self, cluster: &str, node: Option<&str>) -> Result<Vec<Eni>, CloudError> {
        let mut req = self.client.describe_network_interfaces().filters(
            Filter::builder()
                .name(format!("tag:{TAG_CLUSTER}"))
                .values(cluster)
                .build(),
        );
        if let Some(node) = node {
            req = req.filters(
                Filter::builder()
                    .name(format!("tag:{TAG_NODE}"))
                    .values(node)
                    .build(),
            );
        }
        let op = format!("looking up hakit's ENIs of cluster {cluster}");
        let out = self.rt.block_on(req.send()).map_err(|e| sdk_err(&op, e))?;
        Ok(out.network_interfaces().iter().map(eni_from).collect())
    }

    fn create_eni(&self, req: &NewEni) -> Result<Eni, CloudError> {
        let spec = eni_tags(&req.cluster, &req.node, &req.run);
        let op = format!(
            "creating the dedicated ENI of node {} in {}",
            req.node, req.subnet_id
        );
        let out = self
            .rt
            .block_on(
                self.client
                    .create_network_interface()
                    .subnet_id(&req.subnet_id)
                    .set_groups(
                        (!req.security_group_ids.is_empty())
                            .then(|| req.security_group_ids.clone()),
                    )
                    .description(format!("hakit {} {}", req.cluster, req.node))
                    .client_token(&req.client_token)
                    .tag_specifications(spec)
                    .send(),
            )
            .map_err(|e| sdk_err(&op, e))?;
        out.network_interface()
            .map(eni_from)
            .ok_or_else(|| CloudError::new(op, None, "EC2 returned no network interface"))
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
        self.rt
            .block_on(
                self.client
                    .attach_network_interface()
                    .network_interface_id(eni_id)
                    .instance_id(instance_id)
                    .device_index(index)
                    .send(),
            )
            .map_err(|e| sdk_err(&op, e))?;
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
        match self.rt.block_on(
            self.client
                .detach_network_interface()
                .attachment_id(&a.id)
                .send(),
        ) {
            Ok(_) => {}
            Err(e) => {
                let e = sdk_err(&op, e);
                if !e.is_not_found() {
                    return Err(e);
                }
            }
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
            match self.rt.block_on(
                self.client
                    .delete_network_interface()
                    .network_interface_id(eni_id)
                    .send(),
            ) {
                Ok(_) => Ok(Some(())),
                Err(e) => {
                    let e = sdk_err(&op, e);
                    if e.is_not_found() {
                        Ok(Some(()))
                    } else if e.is_code("InvalidNetworkInterface.InUse") {
                        Ok(None) // a detach is still finishing
                    } else {
                        Err(e)
                    }
                }
            }
        })
    }

    fn set_source_dest_check(&self, eni_id: &str, enabled: bool) -> Result<(), CloudError> {
        let op = format!("setting source/dest check of {eni_id} to {enabled}");
        self.rt
            .block_on(
                self.client
                    .modify_network_interface_attribute()
                    .network_interface_id(eni_id)
                    .source_dest_check(AttributeBooleanValue::builder().value(enabled).build())
                    .send(),
            )
            .map_err(|e| sdk_err(&op, e))?;
        Ok(())
    }

    fn address(&self, allocation_id: &str) -> Result<Address, CloudError> {
        let op = format!("describing Elastic IP {allocation_id}");
        let out = self
            .rt
            .block_on(
                self.client
                    .describe_addresses()
                    .allocation_ids(allocation_id)
                    .send(),
            )
            .map_err(|e| sdk_err(&op, e))?;
        let a = out.addresses().first().ok_or_else(|| {
            CloudError::new(
                &op,
                Some("InvalidAllocationID.NotFound".into()),
                "no such allocation",
            )
        })?;
        Ok(Address {
            allocation_id: allocation_id.to_string(),
            public_ip: non_empty(a.public_ip()),
            association_id: non_empty(a.association_id()),
            network_interface_id: non_empty(a.network_interface_id()),
        })
    }

    fn associate_eip(&self, allocation_id: &str, eni_id: &str) -> Result<Address, CloudError> {
        let op = format!("associating Elastic IP {allocation_id} with {eni_id}");
        self.rt
            .block_on(
                self.client
                    .associate_address()
                    .allocation_id(allocation_id)
                    .network_interface_id(eni_id)
                    .allow_reassociation(true)
                    .send(),
            )
            .map_err(|e| sdk_err(&op, e))?;
        // EC2 is eventually consistent and two nodes can both get "success": believe only
        // what DescribeAddresses says.
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
        let out = self
            .rt
            .block_on(
                self.client
                    .describe_addresses()
                    .filters(
                        Filter::builder()
                            .name("network-interface-id")
                            .values(eni_id)
                            .build(),
                    )
                    .send(),
            )
            .map_err(|e| sdk_err(&op, e))?;
        Ok(out
            .addresses()
            .iter()
            .filter(|a| a.network_interface_id() == Some(eni_id))
            .map(|a| Address {
                allocation_id: a.allocation_id().unwrap_or_default().to_string(),
                public_ip: non_empty(a.public_ip()),
                association_id: non_empty(a.association_id()),
                network_interface_id: non_empty(a.network_interface_id()),
            })
            .collect())
    }

    fn disassociate_eip(&self, association_id: &str) -> Result<(), CloudError> {
        let op = format!("disassociating {association_id}");
        match self.rt.block_on(
            self.client
                .disassociate_address()
                .association_id(association_id)
                .send(),
        ) {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = sdk_err(&op, e);
                if e.is_not_found() {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    fn tag_eni(&self, eni_id: &str, key: &str, value: &str) -> Result<(), CloudError> {
        let op = format!("tagging {eni_id} with {key}={value}");
        self.rt
            .block_on(
                self.client
                    .create_tags()
                    .resources(eni_id)
                    .tags(Tag::builder().key(key).value(value).build())
                    .send(),
            )
            .map_err(|e| sdk_err(&op, e))?;
        Ok(())
    }

    fn may(&self, action: Action, probe: &Probe) -> Result<bool, CloudError> {
        let op = format!("checking {} with DryRun", action.iam_name());
        let c = &self.client;
        let result = self.rt.block_on(async {
            match action {
                Action::DescribeNetworkInterfaces => c
                    .describe_network_interfaces()
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::DescribeAddresses => c
                    .describe_addresses()
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::DescribeInstances => c
                    .describe_instances()
                    .instance_ids(&probe.instance_id)
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::CreateNetworkInterface => c
                    .create_network_interface()
                    .subnet_id(probe.subnet())
                    .set_groups(
                        (!probe.security_group_ids.is_empty())
                            .then(|| probe.security_group_ids.clone()),
                    )
                    .tag_specifications(eni_tags(&probe.cluster, &probe.node, "preflight"))
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::AttachNetworkInterface => c
                    .attach_network_interface()
                    .network_interface_id(probe.eni())
                    .instance_id(&probe.instance_id)
                    .device_index(1)
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::ModifyNetworkInterfaceAttribute => c
                    .modify_network_interface_attribute()
                    .network_interface_id(probe.eni())
                    .source_dest_check(AttributeBooleanValue::builder().value(false).build())
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::CreateTags => c
                    .create_tags()
                    .resources(probe.eni())
                    .tags(Tag::builder().key(TAG_STATE).value("preflight").build())
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::AssociateAddress => c
                    .associate_address()
                    .allocation_id(&probe.allocation_id)
                    .network_interface_id(probe.eni())
                    .allow_reassociation(true)
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::DisassociateAddress => c
                    .disassociate_address()
                    .association_id(probe.association())
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::DetachNetworkInterface => c
                    .detach_network_interface()
                    .attachment_id(probe.attachment())
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
                Action::DeleteNetworkInterface => c
                    .delete_network_interface()
                    .network_interface_id(probe.eni())
                    .dry_run(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_err(&op, e)),
            }
        });
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.is_code("DryRunOperation") => Ok(true),
            Err(e) if e.is_code("UnauthorizedOperation") => Ok(false),
            Err(e) => Err(e),
        }
    }
}
