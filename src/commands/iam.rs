//! `hakit iam policy|apply`.

use crate::cli::IamCommand;
use crate::config;
use crate::exit::NotImplemented;

pub fn run(cmd: IamCommand) -> anyhow::Result<()> {
    match cmd {
        IamCommand::Policy(args) => {
            let cluster = config::load(&args.config)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::iam::policy(&cluster))?
            );
            Ok(())
        }
        IamCommand::Apply(_) => Err(NotImplemented("iam apply").into()),
    }
}
