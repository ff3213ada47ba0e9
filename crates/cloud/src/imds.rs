//! A small IMDSv2 client: a session token fetched once and reused for its lifetime,
//! renewed on 401; plain HTTP to the metadata address with short timeouts. Honours
//! `AWS_EC2_METADATA_SERVICE_ENDPOINT` like the SDK does.

use crate::error::CloudError;
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const TOKEN_TTL_SECONDS: u64 = 21600;

/// What a node is on EC2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeFacts {
    pub instance_id: String,
    pub region: String,
    pub availability_zone: String,
    pub mac: String,
    pub subnet_id: String,
    pub subnet_cidr: String,
    pub vpc_id: String,
    pub private_ip: String,
    pub security_group_ids: Vec<String>,
}

pub struct Imds {
    host: String,
    port: u16,
    timeout: Duration,
    token: RefCell<Option<(String, Instant)>>,
    /// How many tokens were fetched (tests check reuse).
    pub token_fetches: Cell<u32>,
}

struct Response {
    status: u16,
    body: String,
}

fn err(op: &str, message: impl Into<String>) -> CloudError {
    CloudError::new(op, None, message)
}

impl Imds {
    /// The metadata service at `AWS_EC2_METADATA_SERVICE_ENDPOINT` or 169.254.169.254.
    pub fn from_env() -> Result<Self, CloudError> {
        let endpoint = std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .unwrap_or_else(|_| DEFAULT_ENDPOINT.to_string());
        Self::new(&endpoint)
    }

    pub fn new(endpoint: &str) -> Result<Self, CloudError> {
        let rest = endpoint.strip_prefix("http://").ok_or_else(|| {
            err(
                "reading the metadata endpoint",
                format!("{endpoint:?} must start with http://"),
            )
        })?;
        let authority = rest.trim_end_matches('/');
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| {
                    err(
                        "reading the metadata endpoint",
                        format!("bad port in {endpoint:?}"),
                    )
                })?,
            ),
            None => (authority.to_string(), 80),
        };
        Ok(Imds {
            host,
            port,
            timeout: Duration::from_secs(1),
            token: RefCell::new(None),
            token_fetches: Cell::new(0),
        })
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        header: (&str, &str),
    ) -> Result<Response, CloudError> {
        let op = format!("calling the instance metadata service ({method} {path})");
        let mut last = String::new();
        // Bounded: three tries with a short pause, then a clear error.
        for attempt in 0..3 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 * attempt));
            }
            match self.request_once(method, path, header) {
                Ok(r) => return Ok(r),
                Err(e) => last = e,
            }
        }
        Err(err(&op, format!("{last} (is this an EC2 instance? AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the address)")))
    }

    fn request_once(
        &self,
        method: &str,
        path: &str,
        header: (&str, &str),
    ) -> Result<Response, String> {
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or("no address")?;
        let mut stream = TcpStream::connect_timeout(&addr, self.timeout)
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(self.timeout))
            .map_err(|e| e.to_string())?;
        stream
            .set_write_timeout(Some(self.timeout))
            .map_err(|e| e.to_string())?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{}: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.host, header.0, header.1
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .map_err(|e| format!("reading the response: {e}"))?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or("malformed HTTP response")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("malformed HTTP status line")?;
        Ok(Response {
            status,
            body: body.to_string(),
        })
    }

    fn token(&self) -> Result<String, CloudError> {
        if let Some((token, expires)) = self.token.borrow().as_ref() {
            if Instant::now() < *expires {
                return Ok(token.clone());
            }
        }
        let resp = self.request(
            "PUT",
            "/latest/api/token",
            (
                "X-aws-ec2-metadata-token-ttl-seconds",
                &TOKEN_TTL_SECONDS.to_string(),
            ),
        )?;
        if resp.status != 200 {
            return Err(err(
                "getting an IMDSv2 token",
                format!("HTTP {}: {}", resp.status, resp.body.trim()),
            ));
        }
        self.token_fetches.set(self.token_fetches.get() + 1);
        let token = resp.body.trim().to_string();
        // Renew a minute before the service would expire it.
        let expires = Instant::now() + Duration::from_secs(TOKEN_TTL_SECONDS - 60);
        *self.token.borrow_mut() = Some((token.clone(), expires));
        Ok(token)
    }

    /// GET a metadata path, renewing the token once on 401.
    pub fn get(&self, path: &str) -> Result<String, CloudError> {
        for _ in 0..2 {
            let token = self.token()?;
            let resp = self.request("GET", path, ("X-aws-ec2-metadata-token", &token))?;
            match resp.status {
                200 => return Ok(resp.body.trim().to_string()),
                401 => {
                    *self.token.borrow_mut() = None;
                }
                other => {
                    return Err(err(
                        &format!("reading {path} from the instance metadata"),
                        format!("HTTP {other}: {}", resp.body.trim()),
                    ))
                }
            }
        }
        Err(err(
            &format!("reading {path} from the instance metadata"),
            "the service kept refusing fresh tokens (HTTP 401)",
        ))
    }

    /// Everything hakit needs to know about this instance.
    pub fn facts(&self) -> Result<NodeFacts, CloudError> {
        let md = "/latest/meta-data";
        let mac = self.get(&format!("{md}/mac"))?;
        let iface = format!("{md}/network/interfaces/macs/{mac}");
        let az = self.get(&format!("{md}/placement/availability-zone"))?;
        let region = match self.get(&format!("{md}/placement/region")) {
            Ok(r) => r,
            // Older instances have no placement/region: strip the AZ letter.
            Err(_) => az
                .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                .to_string(),
        };
        Ok(NodeFacts {
            instance_id: self.get(&format!("{md}/instance-id"))?,
            region,
            availability_zone: az,
            subnet_id: self.get(&format!("{iface}/subnet-id"))?,
            subnet_cidr: self.get(&format!("{iface}/subnet-ipv4-cidr-block"))?,
            vpc_id: self.get(&format!("{iface}/vpc-id"))?,
            private_ip: self.get(&format!("{md}/local-ipv4"))?,
            security_group_ids: self
                .get(&format!("{iface}/security-group-ids"))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            mac,
        })
    }
}
