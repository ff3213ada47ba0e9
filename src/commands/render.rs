//! `hakit render`: write every file this node would get under a directory, with modes.

use super::{load_node, SecretsPolicy};
use crate::cli::{Output, RenderArgs};
use crate::host::{Host, RealHost};
use crate::render;
use anyhow::{bail, Context};
use serde::Serialize;

#[derive(Serialize)]
struct Written {
    path: String,
    lands_at: String,
    mode: String,
    owner: String,
    group: String,
    valid: Option<bool>,
}

pub fn run(args: RenderArgs) -> anyhow::Result<()> {
    let loaded = load_node(&args.node, SecretsPolicy::Required)?;
    let secrets = loaded.secrets.as_ref().ok_or_else(|| {
        anyhow::anyhow!("secrets file {} is missing", loaded.secrets_path.display())
    })?;
    let mut files = loaded.render(secrets, args.node.templates.as_deref())?;
    if matches!(loaded.cluster.mode, crate::config::Mode::AwsEip(_)) {
        // The dedicated ENI's configuration in the form this host's network manager reads,
        // with example values until setup knows the ENI.
        let persist = crate::netstack::detect(&RealHost).eni_persist();
        files.push(render::eni_persist::preview(
            persist,
            &loaded.cluster.paths,
            &loaded.cluster.name,
            &loaded.target.node.name,
            args.node.templates.as_deref(),
        )?);
    }
    let written = render::write_tree(&args.out, &files)?;
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (file, path) in files.iter().zip(&written) {
        let valid = if args.validate {
            validate(file, &files, path, &args.out, &mut failures)?
        } else {
            None
        };
        report.push(Written {
            path: path.display().to_string(),
            lands_at: file.path.display().to_string(),
            mode: file.mode_string(),
            owner: file.owner.clone(),
            group: file.group.clone(),
            valid,
        });
    }
    match args.output.format {
        Output::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
        Output::Text => {
            for w in &report {
                let check = match w.valid {
                    Some(true) => "  valid",
                    Some(false) => "  INVALID",
                    None => "",
                };
                outln!("{} {}:{} {}{check}", w.mode, w.owner, w.group, w.path);
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} file(s) failed validation:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

/// Run `file`'s validator on what was written at `path` (a keepalived.conf through a copy
/// that names the scripts under `out`); a failure goes to `failures` unless it comes only
/// from this machine, which is said on stderr.
fn validate(
    file: &render::RenderedFile,
    files: &[render::RenderedFile],
    path: &std::path::Path,
    out: &std::path::Path,
    failures: &mut Vec<String>,
) -> anyhow::Result<Option<bool>> {
    let copy = render::tree_check::validation_copy(file, files, out);
    let target = match &copy {
        Some((copy_path, text)) => {
            std::fs::write(copy_path, text)
                .with_context(|| format!("writing {}", copy_path.display()))?;
            copy_path.as_path()
        }
        None => path,
    };
    let argv = render::validate_command(file, target);
    if argv.is_empty() {
        return Ok(None);
    }
    let verdict = RealHost
        .run(&argv)
        .with_context(|| format!("running `{}` (is it installed?)", argv.join(" ")));
    if let Some((copy_path, _)) = &copy {
        let _ = std::fs::remove_file(copy_path);
    }
    let verdict = verdict?;
    if verdict.success {
        return Ok(Some(true));
    }
    let machine = render::tree_check::machine_findings(&verdict.output);
    if !machine.is_empty() {
        for finding in machine {
            errln!("note: {}: {finding}", path.display());
        }
        return Ok(Some(true));
    }
    failures.push(format!(
        "{} failed `{}` (exit {:?}):\n{}",
        path.display(),
        argv.join(" "),
        verdict.code,
        verdict.output.trim_end()
    ));
    Ok(Some(false))
}
