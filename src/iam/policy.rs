//! The least-privilege IAM policy hakit needs on each node's instance role: describes
//! (EC2 cannot scope them), ENI actions only on ENIs tagged with this cluster, and the
//! Elastic IP moves only for this cluster's allocation. Pure.

use crate::config::{Cluster, Mode};
use hakit_cloud::{TAG_CLUSTER, TAG_STATE};
use serde_json::{json, Value};

pub fn policy(cluster: &Cluster) -> Value {
    let (region, allocation) = match &cluster.mode {
        Mode::AwsEip(aws) => (
            aws.region.clone().unwrap_or_else(|| "*".into()),
            aws.eip_allocation_id.clone(),
        ),
        Mode::L2Vip(_) => ("*".into(), "*".into()),
    };
    let arn = |kind: &str, id: &str| format!("arn:aws:ec2:{region}:*:{kind}/{id}");
    let tagged =
        json!({ "StringEquals": { format!("aws:ResourceTag/{TAG_CLUSTER}"): cluster.name } });
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "HakitDescribe",
                "Effect": "Allow",
                "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeAddresses", "ec2:DescribeInstances"],
                "Resource": "*"
            },
            {
                "Sid": "HakitCreateEniInSubnet",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": [arn("subnet", "*"), arn("security-group", "*")]
            },
            {
                "Sid": "HakitCreateTaggedEni",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": arn("network-interface", "*"),
                "Condition": { "StringEquals": { format!("aws:RequestTag/{TAG_CLUSTER}"): cluster.name } }
            },
            {
                "Sid": "HakitTagOnCreateOnly",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": arn("network-interface", "*"),
                "Condition": { "StringEquals": { "ec2:CreateAction": "CreateNetworkInterface" } }
            },
            {
                "Sid": "HakitReportStateOnOwnEnis",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": arn("network-interface", "*"),
                "Condition": {
                    "StringEquals": { format!("aws:ResourceTag/{TAG_CLUSTER}"): cluster.name },
                    "ForAllValues:StringEquals": { "aws:TagKeys": [TAG_STATE] }
                }
            },
            {
                "Sid": "HakitOwnEnis",
                "Effect": "Allow",
                "Action": [
                    "ec2:AttachNetworkInterface",
                    "ec2:DetachNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:ModifyNetworkInterfaceAttribute",
                    "ec2:AssociateAddress"
                ],
                "Resource": arn("network-interface", "*"),
                "Condition": tagged
            },
            {
                "Sid": "HakitAttachToInstances",
                "Effect": "Allow",
                "Action": ["ec2:AttachNetworkInterface", "ec2:DetachNetworkInterface"],
                "Resource": arn("instance", "*")
            },
            {
                "Sid": "HakitMoveThisElasticIp",
                "Effect": "Allow",
                "Action": ["ec2:AssociateAddress", "ec2:DisassociateAddress"],
                "Resource": arn("elastic-ip", &allocation)
            }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Cluster {
        crate::config::parse(
            "name = \"orders\"\nmode = \"aws-eip\"\nprofile = \"haproxy\"\n[[node]]\nname = \"a\"\naddress = \"10.0.1.1\"\n[[node]]\nname = \"b\"\naddress = \"10.0.1.2\"\n[[backend]]\naddress = \"10.0.1.9:3306\"\n[aws]\neip_allocation_id = \"eipalloc-0123456789abcdef0\"\nregion = \"eu-west-1\"\n[vrrp]\nvirtual_router_id = 9\n",
        )
        .expect("valid")
    }

    #[test]
    fn never_allows_allocating_or_releasing_and_scopes_to_the_cluster() {
        let p = policy(&cluster());
        let text = p.to_string();
        for forbidden in [
            "ReleaseAddress",
            "AllocateAddress",
            "ec2:*",
            "\"Action\":\"*\"",
        ] {
            assert!(!text.contains(forbidden), "{forbidden} in {text}");
        }
        assert!(text.contains("arn:aws:ec2:eu-west-1:*:elastic-ip/eipalloc-0123456789abcdef0"));
        let statements = p["Statement"].as_array().expect("statements");
        let own = statements
            .iter()
            .find(|s| s["Sid"] == "HakitOwnEnis")
            .expect("own ENIs");
        assert_eq!(
            own["Condition"]["StringEquals"]["aws:ResourceTag/hakit:cluster"],
            "orders"
        );
        // notify tags hakit:state on its existing ENI: only that key, only on this cluster's.
        let state = statements
            .iter()
            .find(|s| s["Sid"] == "HakitReportStateOnOwnEnis")
            .expect("state tagging");
        assert_eq!(state["Action"], "ec2:CreateTags");
        assert_eq!(
            state["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"],
            serde_json::json!(["hakit:state"])
        );
        assert_eq!(
            state["Condition"]["StringEquals"]["aws:ResourceTag/hakit:cluster"],
            "orders"
        );
        for s in statements {
            if s["Resource"] == "*" {
                let actions: Vec<&str> = s["Action"]
                    .as_array()
                    .expect("list")
                    .iter()
                    .filter_map(|a| a.as_str())
                    .collect();
                assert!(
                    actions.iter().all(|a| a.starts_with("ec2:Describe")),
                    "only describes may be unscoped: {actions:?}"
                );
            }
        }
    }
}
