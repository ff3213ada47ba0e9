//! Loading a changed ProxySQL configuration into the running ProxySQL. ProxySQL reads
//! proxysql.cnf only into a new database, so once it has run, a restart would ignore the
//! change and drop every client connection besides. Instead: what ProxySQL holds now is
//! kept first (the statements that put it back, for rollback), then the new
//! configuration goes in through the admin interface, to runtime and to disk. An
//! unchanged config touches nothing.

use super::{ApplyInput, StepResult};
use crate::host::{Host, Ownership};
use crate::journal::{layout, NodeJournal, Status, Undo};
use crate::render::proxysql_runtime::{restore_statements, snapshot_queries, AdminBatch};
use anyhow::Context;
use std::path::Path;

/// Where the rendered proxysql.cnf puts ProxySQL's database.
const DATADIR: &str = "/var/lib/proxysql";

/// The admin interface refused the login (error 1045).
fn refused(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains("1045")
}

/// Whether this setup's journal installed `service`'s package (and so everything in its
/// database came from the package, not from the user).
fn installed_by_setup(journal: &NodeJournal, service: &str) -> bool {
    journal.entries.iter().any(
        |e| matches!(&e.undo, Undo::RemovePackages { packages, .. } if packages.iter().any(|p| p == service)),
    )
}

/// `f`, tried again while the admin interface refuses connections (bounded: 10 s).
fn retry<T>(mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let mut result = f();
    for _ in 0..20 {
        match &result {
            Err(e) if format!("{e:#}").contains("connecting to") => {
                std::thread::sleep(std::time::Duration::from_millis(500));
                result = f();
            }
            _ => break,
        }
    }
    result
}

pub(super) fn load(
    host: &dyn Host,
    journal: &mut NodeJournal,
    input: &ApplyInput<'_>,
    service: &str,
    batch: &AdminBatch,
) -> StepResult {
    if input.no_start {
        return Ok((Status::Skipped, Some("--no-start".into())));
    }
    if !host.service_running(service)? {
        return Ok((
            Status::Skipped,
            Some(format!(
                "{service} is not running: it reads proxysql.cnf when it starts"
            )),
        ));
    }
    if !journal.meta.reload_due.contains(service) {
        return Ok((
            Status::AlreadyDone,
            Some("its configuration unchanged: left alone".into()),
        ));
    }
    let login = || {
        format!(
            "{service}'s admin interface (127.0.0.1:{}, user {}): ProxySQL keeps the admin credentials of its first start; if it ran before hakit, set them to those of proxysql.cnf",
            batch.port, batch.user
        )
    };
    // What it holds before hakit's first change, once: later setups keep the first.
    let snapshot = layout::proxysql_snapshot(input.state_dir);
    let undo = Undo::RestoreProxysqlRuntime {
        service: service.to_string(),
        snapshot: snapshot.clone(),
    };
    if !journal.entries.iter().any(|e| e.undo == undo) {
        // Just started by the step before, its admin interface may take a moment.
        let read = || {
            retry(|| {
                host.sql(
                    batch.port,
                    &batch.user,
                    &batch.password,
                    &snapshot_queries(),
                )
            })
        };
        let results = match read() {
            Err(e) if refused(&e) && installed_by_setup(journal, service) => {
                // The package started it with its own default config before setup wrote
                // hakit's, and that database holds nothing of the user's: start over
                // from proxysql.cnf.
                host.systemctl("stop", service)?;
                host.remove_file(&Path::new(DATADIR).join("proxysql.db"))?;
                host.systemctl("start", service)?;
                read()
            }
            other => other,
        }
        .with_context(|| format!("reading the configuration of {}", login()))?;
        let before = AdminBatch {
            statements: restore_statements(&results)?,
            ..batch.clone()
        };
        let index = journal.intend(host, undo)?;
        host.write_atomic(
            &snapshot,
            &serde_json::to_vec(&before)?,
            &Ownership::root(0o600),
        )?;
        journal.done(host, index)?;
    }
    retry(|| host.sql(batch.port, &batch.user, &batch.password, &batch.statements))
        .with_context(|| format!("loading the new configuration into {}", login()))?;
    journal.meta.reload_due.remove(service);
    journal.save(host)?;
    Ok((
        Status::Applied,
        Some("loaded into the running ProxySQL and saved to its database: no restart".into()),
    ))
}
