//! `hakit completions SHELL`: print a completion script generated from the clap definitions.

use crate::cli::{Cli, CompletionsArgs, Shell};
use clap::CommandFactory;

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut Cli::command(), "hakit", &mut std::io::stdout());
    Ok(())
}

/// `hakit man`: the man page, generated from the same clap definitions.
pub fn man() -> anyhow::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(())
}
