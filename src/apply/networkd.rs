//! Keeping keepalived's addresses when systemd-networkd configures a link again: where
//! networkd manages the link, a drop-in for its `.network` file (`KeepConfiguration=static`)
//! and a `networkctl reload` so it applies now. Where networkd does not run or leaves the
//! link alone, there is nothing to do.

use super::{files, ApplyInput, StepResult};
use crate::host::Host;
use crate::journal::{NodeJournal, Status, Undo};
use crate::render::networkd_keep::{self, KeepInput};

pub(super) fn keep_addresses(
    host: &dyn Host,
    journal: &mut NodeJournal,
    input: &ApplyInput<'_>,
    interface: &str,
    what: &str,
) -> StepResult {
    if !host.service_running("systemd-networkd")? {
        return Ok((
            Status::Skipped,
            Some("systemd-networkd is not running here".into()),
        ));
    }
    let status = host.run_str(&["networkctl", "status", "--no-pager", interface])?;
    let Some(network_file) = status
        .success
        .then(|| networkd_keep::network_file_in(&status.output))
        .flatten()
    else {
        return Ok((
            Status::Skipped,
            Some(format!("systemd-networkd does not manage {interface}")),
        ));
    };
    let dropin = networkd_keep::render(&KeepInput {
        network_dir: &input.cluster.paths.network_dir,
        network_file: &network_file,
        cluster: &input.cluster.name,
        node: &input.plan.node,
        interface,
        what,
        templates: input.templates,
    })?;
    // Recorded first, so rollback reloads networkd after it has removed the drop-in.
    journal.record_once(host, Undo::ReloadNetworkd)?;
    let (status, _) = files::write_rendered(host, journal, &dropin)?;
    if status == Status::Applied {
        host.run_ok(&["networkctl", "reload"])?;
    }
    Ok((status, Some(dropin.path.display().to_string())))
}
