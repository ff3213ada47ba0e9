//! Run a rendered file's real validator (`keepalived -t`, `haproxy -c`) and report what it said.

use crate::render::{validate_command, RenderedFile};
use anyhow::Context;
use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone)]
pub struct Verdict {
    pub command: Vec<String>,
    pub success: bool,
    pub code: Option<i32>,
    /// stdout and stderr together, as the tool printed them.
    pub output: String,
}

/// Validate `file` as written at `path`. `Ok(None)` when the file has no validator.
pub fn run(file: &RenderedFile, path: &Path) -> anyhow::Result<Option<Verdict>> {
    let argv = validate_command(file, path);
    let Some((program, args)) = argv.split_first() else {
        return Ok(None);
    };
    let output = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running `{}` (is it installed?)", argv.join(" ")))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(Some(Verdict {
        command: argv,
        success: output.status.success(),
        code: output.status.code(),
        output: text,
    }))
}
