//! hakit: an active/standby database-proxy pair behind one address, set up with keepalived.
//!
//! Data flows one way: `cli` -> `commands` -> `config` -> `plan` -> `apply`/`rollback`/`iam`
//! -> `journal` -> `host`/cloud. `render` and `plan` are pure; side effects live behind the
//! `Host` and `Cloud` traits.

#[macro_use]
mod out;

pub mod apply;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod distro;
pub mod exit;
pub mod foreign;
pub mod hook;
pub mod host;
pub mod iam;
pub mod journal;
pub mod netstack;
pub mod notify;
pub mod plan;
pub mod preflight;
pub mod profile;
pub mod prompt;
pub mod render;
pub mod role;
pub mod rollback;
pub mod secrets;
pub mod user_file;
pub mod vendor_repo;

use clap::Parser;

/// Parse `std::env::args`, run the command, print the error (if any) and return the exit code.
pub fn run_cli() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(()) => std::process::ExitCode::from(exit::OK),
        Err(err) => {
            let code = exit::code_for(&err);
            errln!("error: {err:#}");
            for hint in exit::hints_for(&err) {
                errln!("hint: {hint}");
            }
            std::process::ExitCode::from(code)
        }
    }
}
