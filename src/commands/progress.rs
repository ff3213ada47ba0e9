//! How `setup` shows its steps: on a terminal a spinner with the elapsed time for the step
//! running, then one line per finished step; elsewhere (pipes, CI, -q) plain lines only.
//! No colours are used, so NO_COLOR is respected by construction.

use super::Verbosity;
use crate::apply::{Progress, Status, StepReport};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// The progress display for this process: spinners on a terminal, lines otherwise.
pub fn for_stderr(verbosity: Verbosity) -> Box<dyn Progress> {
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    if verbosity != Verbosity::Quiet
        && std::io::stderr().is_terminal()
        && !dumb
        && !crate::prompt::under_ci()
    {
        Box::new(Spinners {
            lines: Lines::new(verbosity),
            bar: None,
        })
    } else {
        Box::new(Lines::new(verbosity))
    }
}

/// One line per step, when it finishes.
pub struct Lines {
    verbosity: Verbosity,
    started: Instant,
}

impl Lines {
    pub fn new(verbosity: Verbosity) -> Self {
        Lines {
            verbosity,
            started: Instant::now(),
        }
    }

    /// The finished step's line, or None when this verbosity hides it.
    fn line(&self, r: &StepReport) -> Option<String> {
        let shown = match self.verbosity {
            Verbosity::Quiet => false,
            Verbosity::Normal => r.status != Status::AlreadyDone,
            Verbosity::Verbose => true,
        };
        if !shown {
            return None;
        }
        let tag = match r.status {
            Status::Applied => "done",
            Status::AlreadyDone => "ok  ",
            Status::Checked => "chk ",
            Status::Skipped => "skip",
        };
        let note = r
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        Some(format!(
            "[{tag}] {}{note} [{}]",
            r.step,
            seconds(self.started.elapsed())
        ))
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl Progress for Lines {
    fn start(&mut self, _index: usize, _total: usize, _step: &str) {
        self.started = Instant::now();
    }

    fn finish(&mut self, report: &StepReport) {
        if let Some(line) = self.line(report) {
            errln!("{line}");
        }
        // Callers that never call `start` get the time since the previous step.
        self.started = Instant::now();
    }

    fn fail(&mut self, step: &str) {
        if self.verbosity != Verbosity::Quiet {
            errln!("[FAIL] {step} [{}]", seconds(self.started.elapsed()));
        }
    }
}

/// A spinner for the running step; finished steps become plain lines above it.
struct Spinners {
    lines: Lines,
    bar: Option<ProgressBar>,
}

impl Progress for Spinners {
    fn start(&mut self, index: usize, total: usize, step: &str) {
        self.lines.start(index, total, step);
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{prefix}] {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_prefix(format!("{}/{total}", index + 1));
        bar.set_message(step.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        self.bar = Some(bar);
    }

    fn finish(&mut self, report: &StepReport) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.lines.finish(report);
    }

    fn fail(&mut self, step: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.lines.fail(step);
    }
}

/// One line per undone change (not with -q), and every change left in place or alone.
pub fn print_report(report: &crate::journal::RollbackReport, verbosity: Verbosity) {
    for line in report.lines(verbosity == Verbosity::Quiet) {
        errln!("{line}");
    }
}

/// With `--output json`, `value` as one JSON document on stdout.
pub fn print_json(
    output: &crate::cli::OutputArgs,
    value: &impl serde::Serialize,
) -> anyhow::Result<()> {
    if output.format == crate::cli::Output::Json {
        outln!("{}", serde_json::to_string_pretty(value)?);
    }
    Ok(())
}
