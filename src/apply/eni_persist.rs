//! Keeping the dedicated ENI's configuration where the host's network manager reads it, so
//! a reboot or a reload of that manager puts it back instead of taking it away: the file
//! in the manager's own form (journaled like every file), the manager told to read it, and
//! what rollback needs to have it forget the interface again.

use super::cloud_steps::AwsStep;
use super::files;
use crate::host::{interface::InterfaceConfig, Host};
use crate::journal::{NodeJournal, Status, Undo};
use crate::render::eni_keyfile;
use crate::render::eni_persist::{self, EniPersist};
use anyhow::bail;

/// Write the ENI's configuration for `persist` and have its manager apply it; returns the
/// file's path for the step's report.
pub(super) fn keep(
    host: &dyn Host,
    journal: &mut NodeJournal,
    s: &AwsStep<'_>,
    node: &str,
    config: &InterfaceConfig,
    persist: EniPersist,
) -> anyhow::Result<String> {
    let paths = &s.cluster.paths;
    let file = eni_persist::render(persist, paths, &s.cluster.name, node, config, s.templates)?;
    let written = |journal: &mut NodeJournal| -> anyhow::Result<bool> {
        Ok(files::write_rendered(host, journal, &file)?.0 == Status::Applied)
    };
    match persist {
        EniPersist::Networkd => {
            written(journal)?;
        }
        EniPersist::Ec2NetUtils => {
            // Recorded first, so rollback reloads networkd after removing the drop-in.
            journal.record_once(host, Undo::ReloadNetworkd)?;
            if written(journal)? && host.service_running("systemd-networkd")? {
                host.run_ok(&["networkctl", "reload"])?;
            }
        }
        EniPersist::NetworkManager => {
            journal.record_once(host, Undo::ReloadNetworkManager)?;
            if written(journal)? && host.service_running("NetworkManager")? {
                host.run_ok(&["nmcli", "connection", "reload"])?;
                let id = eni_keyfile::id(&s.cluster.name);
                host.run_ok(&["nmcli", "connection", "up", "id", &id])?;
            }
        }
        EniPersist::Ifupdown => {
            if let Some(problem) = crate::netstack::ifupdown_problem(host, &paths.ifupdown_dir)? {
                bail!("{problem}");
            }
            let changed = written(journal)?;
            // Recorded after the stanza, so rollback takes the interface down while
            // ifupdown still knows it.
            journal.record_once(
                host,
                Undo::IfdownInterface {
                    interface: config.interface.clone(),
                },
            )?;
            if changed {
                // Its `up` commands are idempotent: this only makes ifupdown count the
                // interface as configured, so `ifdown` and `ifup` work on it.
                host.run_ok(&["ifup", "--force", &config.interface])?;
            }
        }
    }
    Ok(file.path.display().to_string())
}
