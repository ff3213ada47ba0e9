//! hakit's entry point: parse the command line, hand it to the library, turn the result into an exit code.

fn main() -> std::process::ExitCode {
    hakit::run_cli()
}
