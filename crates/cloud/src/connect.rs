//! How hakit's AWS clients connect: where ([`Endpoint`]: region, endpoint override,
//! credentials), how hard they try ([`Limits`]), the SDK configuration they share, and
//! how SDK errors become [`CloudError`]s.

use crate::error::CloudError;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// Where a client connects, and as whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// The region; `None`: the SDK's default chain (`AWS_REGION`, profile, IMDS).
    pub region: Option<String>,
    /// Overrides the service endpoint (a VPC endpoint, an emulator); without it
    /// `AWS_ENDPOINT_URL[_<SERVICE>]` is honoured.
    pub url: Option<String>,
    /// Static placeholder credentials (for an emulator) instead of the default chain.
    pub emulator: bool,
}

impl Endpoint {
    /// Credentials from the default chain (the instance role on a node).
    pub fn default_chain(region: Option<String>, url: Option<String>) -> Self {
        Endpoint {
            region,
            url,
            emulator: false,
        }
    }

    /// An emulator at `url`, with static credentials and without touching the environment.
    pub fn emulator(url: &str, region: &str) -> Self {
        Endpoint {
            region: Some(region.to_string()),
            url: Some(url.to_string()),
            emulator: true,
        }
    }
}

/// Bounds for retries and waits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub operation_timeout: Duration,
    pub poll_interval: Duration,
    pub poll_attempts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(50),
            operation_timeout: Duration::from_secs(20),
            poll_interval: Duration::from_millis(200),
            poll_attempts: 50,
        }
    }
}

pub(crate) fn sdk_err<E, R>(op: &str, err: SdkError<E, R>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().map(str::to_string);
    let message = match err.message() {
        Some(m) => m.to_string(),
        None => format!("{}", aws_sdk_ec2::error::DisplayErrorContext(&err)),
    };
    CloudError::new(op, code, message)
}

/// The SDK configuration every hakit client shares: the SDK's standard retry mode (jittered
/// exponential backoff on throttling and 5xx, bounded by `limits`), operation timeouts,
/// the endpoint's region or the default chain, its URL or `AWS_ENDPOINT_URL[_<SERVICE>]`,
/// and credentials from the default chain (or static ones for an emulator).
pub(crate) fn load_config(
    endpoint: &Endpoint,
    limits: &Limits,
) -> Result<(tokio::runtime::Runtime, aws_config::SdkConfig), CloudError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CloudError::new("starting the async runtime", None, e.to_string()))?;
    let retry = RetryConfig::standard()
        .with_max_attempts(limits.max_attempts)
        .with_initial_backoff(limits.initial_backoff)
        .with_max_backoff(Duration::from_secs(2));
    let timeouts = TimeoutConfig::builder()
        .operation_timeout(limits.operation_timeout)
        .operation_attempt_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(region) = &endpoint.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(url) = &endpoint.url {
        loader = loader.endpoint_url(url);
    }
    if plain_http(endpoint) {
        loader = loader.http_client(plain_http_client()?);
    } else {
        ensure_ca_roots()?;
    }
    if endpoint.emulator {
        let creds = aws_sdk_ec2::config::Credentials::new(
            "emulator",
            "emulator",
            None,
            None,
            "hakit-static",
        );
        loader = loader.credentials_provider(creds);
    }
    let config = rt.block_on(loader.load());
    Ok((rt, config))
}

/// Whether every call goes to a plain-HTTP endpoint (an emulator, a local proxy): then no
/// TLS is needed, and no CA roots either. IMDS is plain HTTP in any case.
fn plain_http(endpoint: &Endpoint) -> bool {
    endpoint
        .url
        .as_deref()
        .is_some_and(|url| url.starts_with("http://"))
}

/// An HTTP client that does not load the host's CA roots: the SDK's default one asserts
/// there are some, so on a host without `ca-certificates` it could not even reach an
/// emulator or IMDS.
fn plain_http_client() -> Result<aws_sdk_ec2::config::SharedHttpClient, CloudError> {
    use aws_smithy_http_client::tls;
    let context = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty().with_native_roots(false))
        .build()
        .map_err(|e| CloudError::new("building the HTTP client", None, e.to_string()))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https())
}

/// Where the TLS stack looks for the CA roots (as openssl-probe does, which the SDK's
/// native-roots loader uses), after `SSL_CERT_FILE` and `SSL_CERT_DIR`.
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
];

/// HTTPS to AWS needs the host's CA roots. Without them the SDK fails deep inside its TLS
/// setup (an assertion, or "unknown issuer" on every call); say what to install instead.
fn ensure_ca_roots() -> Result<(), CloudError> {
    let from_env = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .filter_map(std::env::var_os)
        .any(|path| std::path::Path::new(&path).exists());
    let bundled = CA_BUNDLES
        .iter()
        .any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0));
    if from_env || bundled {
        Ok(())
    } else {
        Err(CloudError::new(
            "connecting to AWS over HTTPS",
            None,
            format!(
                "this host has no CA certificates (none of {}, and no SSL_CERT_FILE): install the ca-certificates package (apt-get install ca-certificates, or dnf install ca-certificates)",
                CA_BUNDLES.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;

    #[test]
    fn only_an_http_url_skips_tls() {
        assert!(plain_http(&Endpoint::emulator(
            "http://192.0.2.1:5000",
            "us-east-1"
        )));
        assert!(!plain_http(&Endpoint::default_chain(None, None)));
        assert!(!plain_http(&Endpoint::default_chain(
            None,
            Some("https://vpce-0abc.ec2.us-east-1.vpce.amazonaws.com".into())
        )));
    }

    #[test]
    fn a_plain_http_client_builds_without_ca_roots() {
        assert!(plain_http_client().is_ok());
    }
}
