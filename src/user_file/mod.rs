//! Reading a TOML file the user wrote (cluster file, secrets file, profile): every unknown
//! key and the first type error become [`ConfigIssue`]s naming the key and the fix.

mod issue;

pub use issue::{ConfigError, ConfigIssue};

use serde::de::DeserializeOwned;

/// Deserialize TOML, reporting every unknown key and the first type error by key path.
pub fn parse_toml<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, Vec<ConfigIssue>> {
    let mut unknown: Vec<String> = Vec::new();
    let deserializer = toml::Deserializer::new(text);
    let mut record = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let ignored = serde_ignored::Deserializer::new(deserializer, &mut record);
    let result: Result<T, _> = serde_path_to_error::deserialize(ignored);
    let mut issues: Vec<ConfigIssue> = unknown
        .into_iter()
        .map(|key| {
            let key = normalize_path(&key);
            ConfigIssue::new(
                key.clone(),
                format!("unknown key in the {what}"),
                format!("remove `{key}` or fix its spelling (see examples/ for every key); secrets never go in the cluster file"),
            )
        })
        .collect();
    match result {
        Ok(value) if issues.is_empty() => Ok(value),
        Ok(_) => Err(issues),
        Err(err) => {
            let field = normalize_path(&err.path().to_string());
            let inner = err.into_inner();
            let message = inner.message().to_string();
            let (field, fix) = if field == "." || field.is_empty() {
                (
                    "(syntax)".to_string(),
                    "fix the TOML syntax at the line shown".to_string(),
                )
            } else {
                (
                    field.clone(),
                    format!("give `{field}` a value of the right type, as in examples/"),
                )
            };
            let location = inner
                .span()
                .map(|span| {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!(" (line {line})")
                })
                .unwrap_or_default();
            issues.push(ConfigIssue::new(field, format!("{message}{location}"), fix));
            Err(issues)
        }
    }
}

/// serde paths print array elements as `node[0].name` already but tables of arrays as
/// `node.0.name`; make both read `node[0].name`.
fn normalize_path(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('.').filter(|p| *p != "?") {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}
