//! Apply a plan on the host through the write-ahead journal. A step already satisfied is
//! skipped, so running setup twice changes nothing the second time.

mod cloud_steps;
mod eni_persist;
mod files;
mod networkd;
mod proxysql_runtime;
mod steps;
mod vendor_repo;

use crate::config::Cluster;
use crate::host::Host;
use crate::journal::{crash, CrashPoint, NodeJournal};
use crate::plan::Plan;
use hakit_cloud::{Cloud, NodeFacts};
use std::path::Path;

pub use crate::journal::{Status, StepReport};

/// What a step reports: its status and an optional note ("installed x", an ENI id).
type StepResult = anyhow::Result<(Status, Option<String>)>;

pub struct ApplyInput<'a> {
    pub plan: &'a Plan,
    pub cluster: &'a Cluster,
    /// EC2, for the AWS steps (`None` with --skip-cloud or in l2-vip mode).
    pub cloud: Option<&'a dyn Cloud>,
    /// This instance, from IMDS.
    pub facts: Option<&'a NodeFacts>,
    pub state_dir: &'a Path,
    /// The user's template overrides (the ENI's networkd unit is rendered during apply).
    pub templates: Option<&'a Path>,
    /// Write and validate everything, start nothing.
    pub no_start: bool,
    /// Leave out the AWS steps (ENI, Elastic IP).
    pub skip_cloud: bool,
    /// Test hook: stop the process with SIGKILL right after step k (1-based) is journaled.
    pub crash_after: Option<usize>,
    /// Test hook: end the run at a numbered journal event (inside a step).
    pub crash_at: Option<CrashPoint>,
}

/// Where `apply` reports each step: as it starts and when it is done.
pub trait Progress {
    /// Step `index` (0-based) of `total` begins.
    fn start(&mut self, _index: usize, _total: usize, _step: &str) {}
    /// The step ended: applied, already done, checked or skipped.
    fn finish(&mut self, report: &StepReport);
    /// The step failed with this error (the spinner must not stay on screen).
    fn fail(&mut self, _step: &str) {}
}

/// A closure sees each finished step (tests, library callers).
impl<F: FnMut(&StepReport)> Progress for F {
    fn finish(&mut self, report: &StepReport) {
        self(report)
    }
}

/// Apply `input.plan`, reporting each step as it goes through `progress`.
pub fn apply(
    host: &dyn Host,
    input: &ApplyInput<'_>,
    progress: &mut dyn Progress,
) -> anyhow::Result<Vec<StepReport>> {
    let plan = input.plan;
    let mut journal = NodeJournal::open(host, input.state_dir, &plan.cluster, &plan.node)?;
    journal.crash_at(input.crash_at);
    files::bootstrap_state_dir(host, &mut journal, input.state_dir)?;
    let mut reports = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let name = step.to_string();
        progress.start(i, plan.steps.len(), &name);
        let (status, note) = match steps::apply_step(host, &mut journal, input, step) {
            Ok(outcome) => outcome,
            Err(err) => {
                progress.fail(&name);
                return Err(err.context(format!("step {}: {step}", i + 1)));
            }
        };
        let report = StepReport {
            step: name,
            status,
            note,
        };
        progress.finish(&report);
        reports.push(report);
        if input.crash_after == Some(i + 1) {
            // Test-only: die like a power cut, with no cleanup.
            crash::kill(&format!("after step {}", i + 1));
        }
    }
    Ok(reports)
}
