//! Load what a node-level command needs: the cluster, its profile, this node, the secrets.

use crate::cli::NodeArgs;
use crate::config::{self, Cluster, ConfigError, ConfigIssue};
use crate::profile::{self, Profile};
use crate::render::{self, RenderInput, RenderedFile};
use crate::role::{self, Target};
use crate::secrets::Secrets;
use std::path::{Path, PathBuf};

pub struct LoadedNode {
    pub cluster: Cluster,
    /// The cluster file's text, as validated.
    pub cluster_text: String,
    pub profile: Profile,
    pub target: Target,
    pub secrets: Option<Secrets>,
    /// The secrets file's text, as checked.
    pub secrets_text: Option<String>,
    pub secrets_path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsPolicy {
    /// The command cannot work without them.
    Required,
    /// A missing file is fine (reported by the caller); an unsafe or invalid one is not.
    Optional,
}

pub fn load_node(args: &NodeArgs, policy: SecretsPolicy) -> anyhow::Result<LoadedNode> {
    let (mut cluster, cluster_text) = config::read(&args.config.path)?;
    if let Some(warning) = config::fit_to_host(&mut cluster, crate::distro::container().as_deref())
    {
        errln!("warning: {warning}");
    }
    if cluster.paths.hakit_bin.is_none() {
        cluster.paths.hakit_bin = Some(crate::hook::running_binary()?);
    }
    let base = args.config.path.parent().unwrap_or(Path::new("."));
    let profile = profile::load(&cluster.profile, base)?;
    let cluster_text = installed_text(args, &cluster, base, cluster_text)?;
    let issues = config::check_cluster(&profile, &cluster);
    if !issues.is_empty() {
        return Err(ConfigError {
            file: Some(args.config.path.clone()),
            issues,
        }
        .into());
    }
    let target = role::select(&cluster, args.role, args.node.as_deref())?;
    let secrets_path = args
        .secrets
        .clone()
        .unwrap_or_else(|| cluster.paths.secrets_file());
    let (secrets, secrets_text) = match (policy, secrets_path.exists()) {
        (SecretsPolicy::Optional, false) => (None, None),
        _ => {
            let (secrets, text) = Secrets::read(&secrets_path)?;
            (Some(secrets), Some(text))
        }
    };
    if cluster.vrrp.auth && secrets.as_ref().is_some_and(|s| s.vrrp_auth.is_none()) {
        return Err(ConfigError::single(
            Some(secrets_path.clone()),
            ConfigIssue::new(
                "vrrp_auth",
                "vrrp.auth is on in the cluster file, but the secrets file has no vrrp_auth",
                "add `vrrp_auth = \"<1-8 characters>\"` to the secrets file on every node (the same value), or turn vrrp.auth off",
            ),
        )
        .into());
    }
    if let Some(secrets) = &secrets {
        let issues = secrets.missing_proxysql_users(&cluster.proxysql);
        if !issues.is_empty() {
            return Err(ConfigError {
                file: Some(secrets_path.clone()),
                issues,
            }
            .into());
        }
    }
    Ok(LoadedNode {
        cluster,
        cluster_text,
        secrets_text,
        profile,
        target,
        secrets,
        secrets_path,
    })
}

impl LoadedNode {
    /// Why the failover hook's binary cannot run here, with the fix (`None`: it runs).
    pub fn hook_problem(&self, host: &dyn crate::host::Host) -> Option<String> {
        let bin = self.cluster.paths.hakit_bin.as_deref()?;
        crate::hook::problem(host, bin)
    }

    /// In aws-eip mode, why the ENI's configuration would not survive a reboot with
    /// `stack`, the network manager found here, with the fix (`None`: it would, or l2-vip
    /// mode).
    pub fn network_stack_warning(
        &self,
        host: &dyn crate::host::Host,
        stack: crate::netstack::NetStack,
    ) -> Option<String> {
        let aws = matches!(self.cluster.mode, crate::config::Mode::AwsEip(_));
        if !aws || stack != crate::netstack::NetStack::Ifupdown {
            return None;
        }
        crate::netstack::ifupdown_problem(host, &self.cluster.paths.ifupdown_dir)
            .unwrap_or_else(|e| Some(format!("{e:#}")))
    }

    /// Render this node's files with `secrets` and an optional template override directory.
    pub fn render(
        &self,
        secrets: &Secrets,
        templates: Option<&Path>,
    ) -> anyhow::Result<Vec<RenderedFile>> {
        render::render(&RenderInput {
            cluster: &self.cluster,
            target: &self.target,
            profile: &self.profile,
            secrets,
            templates,
        })
    }
}

/// The cluster file's text as setup installs it: a profile file named by a relative path
/// gets its absolute path, or the installed copy (in `config_dir`) could not find it.
fn installed_text(
    args: &NodeArgs,
    cluster: &Cluster,
    base: &Path,
    text: String,
) -> Result<String, ConfigError> {
    if profile::is_shipped(&cluster.profile) || Path::new(&cluster.profile).is_absolute() {
        return Ok(text);
    }
    let path = base.join(&cluster.profile);
    let absolute = std::fs::canonicalize(&path).unwrap_or(path);
    config::with_absolute_profile(&text, &cluster.profile, &absolute).ok_or_else(|| {
        ConfigError::single(
            Some(args.config.path.clone()),
            ConfigIssue::new(
                "profile",
                format!(
                    "the profile file is named by a relative path ({}), which the copy setup installs in {} could not resolve, and hakit could not make it absolute in that copy",
                    cluster.profile,
                    cluster.paths.config_dir.display()
                ),
                format!("give its absolute path: profile = \"{}\"", absolute.display()),
            ),
        )
    })
}
