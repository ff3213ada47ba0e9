//! Render every file a node needs — keepalived.conf, the notify script, the health checks
//! and the proxy's config — as {path, mode, owner, group, bytes}. Pure: nothing is written
//! here; `write_tree` puts a rendering under a directory for review.

mod context;
pub mod eni_ec2_dropin;
pub mod eni_keyfile;
pub mod eni_persist;
pub mod eni_stanza;
pub mod eni_unit;
pub mod networkd_keep;
pub mod proxysql_runtime;
mod templates;
pub mod tree_check;

pub use context::{Context, MARKER};
pub use templates::environment;

use crate::config::Cluster;
use crate::profile::Profile;
use crate::role::Target;
use crate::secrets::Secrets;
use anyhow::Context as _;
use serde::Serialize;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What a file is for; decides how it is validated and which service it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    KeepalivedConf,
    NotifyScript,
    ReconcileScript,
    CheckScript,
    ProxyConfig,
    /// The systemd-networkd unit of the dedicated ENI (aws-eip).
    NetworkUnit,
    /// A systemd-networkd drop-in keeping keepalived's addresses on a managed link.
    NetworkDropIn,
    /// systemd-tmpfiles configuration that recreates the runtime directory at boot.
    Tmpfiles,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub kind: FileKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    /// Validator command, `{path}` standing for the file to check.
    pub validate: Vec<String>,
    #[serde(skip)]
    pub contents: String,
}

impl RenderedFile {
    pub fn mode_string(&self) -> String {
        format!("{:04o}", self.mode)
    }
}

/// Validator for keepalived.conf. See `validate_command` for how it is run.
pub const KEEPALIVED_VALIDATE: &[&str] = &["keepalived", "-t", "-f", "{path}"];

/// A root-owned 0644 network configuration file (networkd unit, drop-in) rendered from
/// `template` with `ctx`, where the templates may be overridden.
pub(crate) fn network_file(
    path: PathBuf,
    kind: FileKind,
    template: &str,
    ctx: minijinja::Value,
    templates: Option<&Path>,
) -> anyhow::Result<RenderedFile> {
    let contents = environment(templates)?
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|err| anyhow::anyhow!("{err:#}"))
        .with_context(|| format!("rendering template {template}"))?;
    Ok(RenderedFile {
        path,
        kind,
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
        validate: vec![],
        contents,
    })
}

pub struct RenderInput<'a> {
    pub cluster: &'a Cluster,
    pub target: &'a Target,
    pub profile: &'a Profile,
    pub secrets: &'a Secrets,
    pub templates: Option<&'a Path>,
}

pub fn render(input: &RenderInput<'_>) -> anyhow::Result<Vec<RenderedFile>> {
    anyhow::ensure!(
        input.cluster.paths.hakit_bin.is_some(),
        "paths.hakit_bin is not resolved: the failover hook would name no binary"
    );
    let env = environment(input.templates)?;
    let ctx = context::build(input.cluster, input.target, input.profile, input.secrets);
    let paths = &input.cluster.paths;
    let render = |template: &str| -> anyhow::Result<String> {
        env.get_template(template)
            .and_then(|t| t.render(&ctx))
            .map_err(|err| anyhow::anyhow!("{err:#}"))
            .with_context(|| format!("rendering template {template}"))
    };
    let mut files = vec![RenderedFile {
        path: paths.keepalived_dir.join("keepalived.conf"),
        kind: FileKind::KeepalivedConf,
        mode: 0o600,
        owner: "root".into(),
        group: "root".into(),
        validate: KEEPALIVED_VALIDATE.iter().map(|s| s.to_string()).collect(),
        contents: render("keepalived.conf.j2")?,
    }];
    files.push(RenderedFile {
        path: ctx.notify_script.clone(),
        kind: FileKind::NotifyScript,
        mode: 0o700,
        owner: "root".into(),
        group: "root".into(),
        validate: vec![],
        contents: render("notify.sh.j2")?,
    });
    if let Some(reconcile) = &ctx.reconcile {
        files.push(RenderedFile {
            path: reconcile.path.clone(),
            kind: FileKind::ReconcileScript,
            mode: 0o700,
            owner: "root".into(),
            group: "root".into(),
            validate: vec![],
            contents: render("reconcile.sh.j2")?,
        });
    }
    for check in &ctx.checks {
        // Scripts keepalived runs as keepalived_script: readable and executable by its group,
        // writable only by root (keepalived's script security checks this).
        let (group, mode) = if check.user == "root" {
            ("root".to_string(), 0o700)
        } else {
            (check.user.clone(), 0o750)
        };
        files.push(RenderedFile {
            path: check.path.clone(),
            kind: FileKind::CheckScript,
            mode,
            owner: "root".into(),
            group,
            validate: vec![],
            contents: render(&check.template)?,
        });
    }
    files.push(RenderedFile {
        path: paths
            .tmpfiles_dir
            .join(format!("hakit-{}.conf", input.cluster.name)),
        kind: FileKind::Tmpfiles,
        mode: 0o644,
        owner: "root".into(),
        group: "root".into(),
        validate: vec![],
        contents: render("tmpfiles.conf.j2")?,
    });
    for spec in &input.profile.files {
        files.push(RenderedFile {
            path: ctx.proxy.config_dir.join(&spec.name),
            kind: FileKind::ProxyConfig,
            mode: spec.mode,
            owner: "root".into(),
            group: spec.group.clone().unwrap_or_else(|| "root".into()),
            validate: spec.validate.clone(),
            contents: render(&spec.template)?,
        });
    }
    Ok(files)
}

/// The validator command for `file` with `{path}` replaced by `path`.
/// keepalived 2.2.7's `-t` kills itself with SIGTERM (exit 143) after checking a script
/// that runs as a non-root user unless its parent pid is 0, so it runs as PID 1 of a new
/// PID namespace (`unshare --pid --fork`), which needs root.
pub fn validate_command(file: &RenderedFile, path: &Path) -> Vec<String> {
    let mut argv: Vec<String> = file
        .validate
        .iter()
        .map(|arg| arg.replace("{path}", &path.to_string_lossy()))
        .collect();
    if file.kind == FileKind::KeepalivedConf && !argv.is_empty() {
        let mut wrapped = vec![
            "unshare".to_string(),
            "--pid".to_string(),
            "--fork".to_string(),
        ];
        wrapped.append(&mut argv);
        argv = wrapped;
    }
    argv
}

/// Where `file` lands under `root` (its absolute path made relative to `root`).
pub fn path_under(root: &Path, file: &Path) -> PathBuf {
    root.join(file.strip_prefix("/").unwrap_or(file))
}

/// Write a rendering under `root`, each file at its real path below it with its mode.
/// Owners are not changed (that needs root and real users; `setup` does it).
pub fn write_tree(root: &Path, files: &[RenderedFile]) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for file in files {
        let dest = path_under(root, &file.path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&dest, &file.contents)
            .with_context(|| format!("writing {}", dest.display()))?;
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(file.mode)).with_context(
            || format!("setting mode {} on {}", file.mode_string(), dest.display()),
        )?;
        written.push(dest);
    }
    Ok(written)
}
