//! Exit codes (documented in the README) and how an error maps onto them.

use crate::config::ConfigError;

/// Everything went as asked.
pub const OK: u8 = 0;
/// A step failed; nothing is left half-applied (or it was rolled back).
pub const FAILURE: u8 = 1;
/// The command line or the cluster file is wrong; nothing was changed.
pub const USAGE: u8 = 2;
/// A step failed and some of the change is still applied: run `hakit rollback`.
pub const PARTIAL: u8 = 3;
/// `hakit status`: this node is degraded (its proxy does not answer, or nobody holds the
/// Elastic IP).
pub const DEGRADED: u8 = 4;

/// What `hakit status` found wrong on this node: exit code 4.
#[derive(Debug, thiserror::Error)]
#[error("degraded: {0}")]
pub struct Degraded(pub String);

/// An error caused by what the user asked for (bad flag combination, missing value):
/// exit code 2, like a clap usage error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub hint: Option<String>,
}

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

/// The operator answered no at a confirmation: exit code 1, nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error("{command} cancelled: nothing changed (pass --yes to skip this question)")]
pub struct Cancelled {
    pub command: String,
}

/// A setup failed and left changes behind: exit code 3, `hakit rollback` finishes the job.
#[derive(Debug, thiserror::Error)]
#[error("changes are still applied; run `hakit rollback` to undo them")]
pub struct PartiallyApplied;

/// `hakit iam apply` failed and left IAM changes behind: exit code 3, `hakit iam rollback`
/// undoes them (a node's `hakit rollback` never touches IAM).
#[derive(Debug, thiserror::Error)]
#[error("IAM changes are still applied; run `hakit iam rollback` to undo them, or fix the cause and run `hakit iam apply` again")]
pub struct IamPartiallyApplied;

pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<PartiallyApplied>() || cause.is::<IamPartiallyApplied>() {
            return PARTIAL;
        }
        if cause.is::<Degraded>() {
            return DEGRADED;
        }
        if cause.is::<ConfigError>() || cause.is::<UsageError>() {
            return USAGE;
        }
    }
    FAILURE
}

pub fn hints_for(err: &anyhow::Error) -> Vec<String> {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<UsageError>())
        .filter_map(|usage| usage.hint.clone())
        .collect()
}
