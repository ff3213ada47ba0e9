//! What applying and undoing report: each step's status, and what a rollback undid, left
//! in place, or left alone. Shared by setup, rollback and `iam apply`/`iam rollback`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Applied,
    /// A check that changes nothing (a validator) passed.
    Checked,
    AlreadyDone,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl StepReport {
    /// How many of `reports` changed something.
    pub fn changed(reports: &[StepReport]) -> usize {
        reports
            .iter()
            .filter(|r| r.status == Status::Applied)
            .count()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RollbackReport {
    pub undone: Vec<String>,
    /// Each with the reason it was not undone.
    pub remaining: Vec<String>,
    /// `--discover` only: what hakit cannot tell apart from what was there before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_alone: Vec<String>,
}

impl RollbackReport {
    /// The lines a person reads: `[undo]` per undone change (unless `quiet`), `[left]` per
    /// change left in place, `[kept]` per thing left alone.
    pub fn lines(&self, quiet: bool) -> Vec<String> {
        let undone = self
            .undone
            .iter()
            .filter(|_| !quiet)
            .map(|l| format!("[undo] {l}"));
        let left = self.remaining.iter().map(|l| format!("[left] {l}"));
        let kept = self.left_alone.iter().map(|l| format!("[kept] {l}"));
        undone.chain(left).chain(kept).collect()
    }
}
