//! Insta snapshots of every profile x mode x role rendering. Review changes with
//! `cargo insta review`: each snapshot is a file a production node will run.

use crate::common::{cluster_toml, render_text, MODES, PROFILES, ROLES};

#[test]
fn every_profile_mode_and_role_renders_as_reviewed() {
    for profile in PROFILES {
        for mode in MODES {
            for role in ROLES {
                let files = render_text(&cluster_toml(profile, mode, ""), *role);
                let mut combined = String::new();
                for file in &files {
                    combined.push_str(&format!(
                        "=== {} ({:?}, {} {}:{}) ===\n{}\n",
                        file.path.display(),
                        file.kind,
                        file.mode_string(),
                        file.owner,
                        file.group,
                        file.contents
                    ));
                }
                let name = format!("{profile}-{mode}-{}", role.as_str());
                insta::assert_snapshot!(name, combined);
            }
        }
    }
}

/// The dedicated ENI's systemd-networkd unit, as `hakit render` previews it (setup writes
/// the same template with the ENI's values from EC2).
#[test]
fn the_eni_network_unit_renders_as_reviewed() {
    use hakit::render::eni_persist::{preview, EniPersist};
    let cluster = crate::common::parse(&cluster_toml("haproxy", "aws-eip", ""));
    for (persist, lands_at, name) in [
        (
            EniPersist::Networkd,
            "/etc/systemd/network/70-hakit-demo.network",
            "networkd-eni-unit",
        ),
        (
            EniPersist::Ec2NetUtils,
            "/etc/systemd/network/70-eth1.network.d/hakit-demo.conf",
            "ec2-net-utils-eni-dropin",
        ),
        (
            EniPersist::NetworkManager,
            "/etc/NetworkManager/system-connections/hakit-demo.nmconnection",
            "network-manager-eni-keyfile",
        ),
        (
            EniPersist::Ifupdown,
            "/etc/network/interfaces.d/hakit-demo",
            "ifupdown-eni-stanza",
        ),
    ] {
        let file = preview(persist, &cluster.paths, &cluster.name, "n1", None).expect("render");
        assert_eq!(file.path, std::path::PathBuf::from(lands_at), "{persist:?}");
        insta::assert_snapshot!(name, file.contents);
    }
}
