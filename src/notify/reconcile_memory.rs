//! What the last `hakit notify --reconcile` reported when it left the address with another
//! master (`<state_dir>/reconcile.last`), so that a VRRP split lasting minutes is logged
//! (and sent to the webhook) once when it begins, not at every reconcile interval. Any
//! other outcome, a transition's included, forgets it: the next split is reported again.
//! Written here and read back here; written only when it changes.

use super::{Action, Outcome};
use anyhow::Context;
use std::path::{Path, PathBuf};

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(crate::journal::layout::RECONCILE_MEMORY_FILE)
}

/// The line kept for an outcome worth remembering: the address left with another master,
/// and which one.
fn line_of(outcome: &Outcome) -> Option<String> {
    (outcome.action == Action::HeldByAnotherMaster).then(|| {
        format!(
            "{} {}",
            outcome.action.as_str(),
            outcome.holder.as_deref().unwrap_or("-")
        )
    })
}

/// Whether a reconcile's `outcome` says what the last one said (and so is not logged
/// again); remembers it, or forgets the last one, for the next reconcile. A transition
/// (`reconcile` false) only forgets.
pub fn repeated(
    state_dir: &Path,
    outcome: Option<&Outcome>,
    reconcile: bool,
) -> anyhow::Result<bool> {
    let path = path(state_dir);
    let now = outcome.filter(|_| reconcile).and_then(line_of);
    let before = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text.trim_end().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if now == before {
        return Ok(now.is_some());
    }
    match &now {
        Some(line) => std::fs::write(&path, format!("{line}\n"))
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(action: Action, holder: &str) -> Outcome {
        Outcome {
            state: "master",
            action,
            eni: Some("eni-a".into()),
            holder: Some(holder.into()),
            took_ms: 1,
        }
    }

    #[test]
    fn a_split_is_reported_once_until_something_else_happens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path();
        let held = outcome(Action::HeldByAnotherMaster, "n2");
        // The split begins: reported; its repeats are not.
        assert!(!repeated(state, Some(&held), true).expect("first"));
        assert_eq!(
            std::fs::read_to_string(path(state)).expect("kept"),
            "held-by-another-master n2\n"
        );
        assert!(repeated(state, Some(&held), true).expect("again"));
        assert!(repeated(state, Some(&held), true).expect("and again"));
        // Another holder is news.
        let other = outcome(Action::HeldByAnotherMaster, "n3");
        assert!(!repeated(state, Some(&other), true).expect("n3"));
        // The reconcile takes the address back: forgotten, the next split is news.
        let taken = outcome(Action::Associated, "eni-a");
        assert!(!repeated(state, Some(&taken), true).expect("taken"));
        assert!(!path(state).exists());
        assert!(!repeated(state, Some(&held), true).expect("a new split"));
        // A transition forgets too, and is never a repeat; so does an error (no outcome).
        assert!(!repeated(state, Some(&held), false).expect("transition"));
        assert!(!path(state).exists());
        assert!(!repeated(state, Some(&held), true).expect("after the transition"));
        assert!(!repeated(state, None, true).expect("an error"));
        assert!(!path(state).exists());
        // Nothing remembered, nothing to forget.
        assert!(!repeated(state, None, true).expect("nothing"));
    }
}
