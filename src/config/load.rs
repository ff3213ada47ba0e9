//! Read a cluster file: TOML syntax, unknown keys and wrong types become [`ConfigIssue`]s
//! naming the key, then [`super::validate`] checks the values.

use super::file::ClusterFile;
use super::{parse_toml, ConfigError, ConfigIssue};
use super::{validate, Cluster};
use std::path::Path;

/// Read and validate the cluster file at `path`.
pub fn load(path: &Path) -> Result<Cluster, ConfigError> {
    read(path).map(|(cluster, _)| cluster)
}

/// Read and validate the cluster file at `path`, keeping the text that was validated (what
/// setup installs).
pub fn read(path: &Path) -> Result<(Cluster, String), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        ConfigError::single(
            Some(path.to_path_buf()),
            ConfigIssue::new(
                "(file)",
                format!("cannot read {}: {err}", path.display()),
                "pass the cluster file with --config (or HAKIT_CONFIG); `hakit init` writes one",
            ),
        )
    })?;
    let cluster = parse(&text).map_err(|issues| ConfigError {
        file: Some(path.to_path_buf()),
        issues,
    })?;
    Ok((cluster, text))
}

/// Parse and validate cluster-file text.
pub fn parse(text: &str) -> Result<Cluster, Vec<ConfigIssue>> {
    let file: ClusterFile = parse_toml(text, "cluster file")?;
    validate::validate(&file)
}
