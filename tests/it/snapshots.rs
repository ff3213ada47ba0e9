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
    let cluster = crate::common::parse(&cluster_toml("haproxy", "aws-eip", ""));
    let unit =
        hakit::render::eni_unit::preview(&cluster.paths.network_dir, &cluster.name, "n1", None)
            .expect("render");
    assert_eq!(
        unit.path,
        cluster.paths.network_dir.join("70-hakit-demo.network")
    );
    insta::assert_snapshot!("networkd-eni-unit", unit.contents);
}
