//! One module per subcommand; `dispatch` routes the parsed command line to it.

mod aws;
mod completions;
mod iam;
mod init;
mod load;
mod notify;
mod plan;
mod progress;
mod render;
mod rollback;
mod setup;
mod status;

pub use load::{load_node, LoadedNode, SecretsPolicy};

use crate::cli::{Cli, Command};

/// How much `setup` and `rollback` print per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let prompting = crate::prompt::Prompting::new(cli.yes, cli.non_interactive);
    match cli.command {
        Command::Init(args) => init::run(args, prompting),
        Command::Plan(args) => plan::run(args),
        Command::Render(args) => render::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => completions::man(args),
        Command::Setup(args) => setup::run(args, verbosity, prompting),
        Command::Rollback(args) => rollback::run(args, verbosity, prompting),
        Command::Status(args) => status::run(args),
        Command::Iam(cmd) => iam::run(cmd, verbosity, prompting),
        Command::Notify(args) => notify::run(args),
    }
}
