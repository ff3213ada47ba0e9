//! Errors in a cluster or secrets file: each names the key, what is wrong, and the fix.

use std::fmt;
use std::path::PathBuf;

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key path, e.g. `vrrp.virtual_router_id` or `node[1].address`.
    pub field: String,
    pub problem: String,
    pub fix: String,
}

impl ConfigIssue {
    pub fn new(
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        ConfigIssue {
            field: field.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`: {}\n    fix: {}",
            self.field, self.problem, self.fix
        )
    }
}

/// Every problem found in one file. Nothing is written when this is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub issues: Vec<ConfigIssue>,
}

impl ConfigError {
    pub fn single(file: Option<PathBuf>, issue: ConfigIssue) -> Self {
        ConfigError {
            file,
            issues: vec![issue],
        }
    }

    /// The fields named by the issues, in order.
    pub fn fields(&self) -> Vec<&str> {
        self.issues.iter().map(|i| i.field.as_str()).collect()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        match &self.file {
            Some(path) => write!(f, "{} has {n} problem{}", path.display(), plural(n))?,
            None => write!(f, "the cluster settings have {n} problem{}", plural(n))?,
        }
        for issue in &self.issues {
            write!(f, "\n  {issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
