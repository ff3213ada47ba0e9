//! Building the EC2 client and reading this instance's facts, for the commands that need them.

use crate::config::{Cluster, Mode};
use hakit_cloud::{Ec2Cloud, Endpoint, Imds, Limits, NodeFacts};

/// This instance's facts from IMDSv2, checked against the cluster file.
pub fn facts(cluster: &Cluster, node: &str) -> anyhow::Result<NodeFacts> {
    let facts = Imds::from_env()?.facts()?;
    if let Some(expected) = cluster
        .nodes
        .iter()
        .find(|n| n.name == node)
        .and_then(|n| n.instance_id.as_deref())
    {
        if expected != facts.instance_id {
            anyhow::bail!(
                "this instance is {}, but the cluster file says node {node} is {expected}: run this on {node}'s instance, or fix --node",
                facts.instance_id
            );
        }
    }
    Ok(facts)
}

/// The EC2 client for the cluster's region (or the instance's, or the SDK's default chain).
pub fn ec2(cluster: &Cluster, facts: Option<&NodeFacts>) -> anyhow::Result<Ec2Cloud> {
    let (region, endpoint) = match &cluster.mode {
        Mode::AwsEip(aws) => (aws.region.clone(), aws.endpoint_url.clone()),
        Mode::L2Vip(_) => (None, None),
    };
    let region = region.or_else(|| facts.map(|f| f.region.clone()));
    Ok(Ec2Cloud::connect(
        &Endpoint::default_chain(region, endpoint),
        Limits::default(),
    )?)
}
