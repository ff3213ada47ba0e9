//! The optional webhook: after each transition, a JSON POST to the URL in the root-only
//! secrets file (`webhook_url`, with `webhook_token` as a bearer token). Bounded by a short
//! timeout; a failed webhook is reported but never fails the transition.

use super::Outcome;
use crate::secrets::Secrets;
use serde_json::json;
use std::time::Duration;

/// POST the outcome of a transition; `Ok(false)` when no webhook is configured.
pub fn send(
    secrets: &Secrets,
    cluster: &str,
    node: &str,
    outcome: &Outcome,
) -> anyhow::Result<bool> {
    let Some(url) = &secrets.webhook_url else {
        return Ok(false);
    };
    let body = json!({
        "cluster": cluster,
        "node": node,
        "state": outcome.state,
        "action": outcome.action,
        "eni": outcome.eni,
        "holder": outcome.holder,
        "took_ms": outcome.took_ms,
        "text": format!("hakit: {node} of {cluster} is now {} ({})", outcome.state, outcome.action.as_str()),
    });
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(3))
        .build();
    let mut request = agent
        .post(url.expose())
        .set("Content-Type", "application/json");
    if let Some(token) = &secrets.webhook_token {
        request = request.set("Authorization", &format!("Bearer {}", token.expose()));
    }
    // The URL may carry a token of its own: never echo it in an error.
    request.send_string(&body.to_string()).map_err(|e| {
        anyhow::anyhow!(
            "sending the webhook: {}",
            redact(&e.to_string(), url.expose())
        )
    })?;
    Ok(true)
}

fn redact(message: &str, url: &str) -> String {
    message.replace(url, "<webhook_url>")
}
