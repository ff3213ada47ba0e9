//! Asking the operator: whether prompting is allowed at all, and yes/no confirmations for
//! destructive steps. Prompts never appear without a terminal, with `--non-interactive`, or
//! under `CI=true`; there the command line itself is the consent.

use crate::exit::Cancelled;
use std::io::IsTerminal;

/// How the command line allows prompting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompting {
    /// `--yes`: every confirmation is answered yes.
    pub yes: bool,
    /// Prompts are possible: a terminal on stdin and stderr, no `--non-interactive`, not CI.
    pub interactive: bool,
}

impl Prompting {
    pub fn new(yes: bool, non_interactive_flag: bool) -> Self {
        Prompting {
            yes,
            interactive: interactive(non_interactive_flag),
        }
    }

    /// Whether a confirmation will really be asked (a terminal, and no `--yes`).
    pub fn asks(&self) -> bool {
        self.interactive && !self.yes
    }

    /// Ask `question` when a person is there to answer; otherwise (and with `--yes`) go ahead.
    /// `default` is the answer Enter gives.
    pub fn confirm(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        if !self.asks() {
            return Ok(true);
        }
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(default)
            .wait_for_newline(true)
            .interact()
            .map_err(|e| anyhow::anyhow!("reading an answer from the terminal: {e}"))
    }

    /// Before a destructive `command`: show `header` and one line per item, then ask
    /// `question` (Enter = no). Declined, it is a [`Cancelled`] error (exit 1: nothing
    /// changed). Without a person to ask (or with `--yes`) it prints nothing and goes ahead.
    pub fn approve(
        &self,
        command: &str,
        header: &str,
        items: &[String],
        question: &str,
    ) -> anyhow::Result<()> {
        if !self.asks() {
            return Ok(());
        }
        errln!("{header}");
        for item in items {
            errln!("  - {item}");
        }
        if self.confirm(question, false)? {
            Ok(())
        } else {
            Err(Cancelled {
                command: command.to_string(),
            }
            .into())
        }
    }

    /// Ask whether to do an optional thing: only where someone can answer, never assumed.
    pub fn offer(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        if !self.interactive {
            return Ok(false);
        }
        if self.yes {
            return Ok(true);
        }
        self.confirm(question, default)
    }
}

/// Whether CI is set to a true value.
pub fn under_ci() -> bool {
    std::env::var("CI")
        .map(|v| !matches!(v.as_str(), "" | "0" | "false"))
        .unwrap_or(false)
}

/// Whether prompting is allowed: not with --non-interactive, not when CI is set to a true
/// value, and only when stdin and stderr are terminals.
pub fn interactive(non_interactive_flag: bool) -> bool {
    !non_interactive_flag
        && !under_ci()
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}
