//! `hakit completions SHELL` and `hakit man`: generated from the clap definitions.

use crate::cli::{Cli, CompletionsArgs, ManArgs, Shell};
use anyhow::Context;
use clap::CommandFactory;

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    // Generated into memory first: clap_complete panics on a closed pipe (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "hakit", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(())
}

/// `hakit man`: hakit.1 on stdout, or with `--dir` every page, so that the `SEE ALSO`
/// references of hakit.1 (`hakit-setup(1)`, ...) all resolve.
pub fn man(args: ManArgs) -> anyhow::Result<()> {
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            out!("{}", String::from_utf8_lossy(&page));
            Ok(())
        }
    }
}
