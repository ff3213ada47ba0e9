//! Local stand-ins for AWS in tests: moto's EC2 server on a free loopback port, a small
//! IMDSv2 server of ours with per-node identities, and a fault-injecting proxy in front of
//! moto for throttling and 5xx. Everything listens on 127.0.0.1 and stops on drop.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";
/// The emulated VPC lives in TEST-NET-1: one subnet per node, in two AZs.
pub const SUBNETS: [(&str, &str); 2] = [
    ("192.0.2.64/26", "us-east-1a"),
    ("192.0.2.128/26", "us-east-1b"),
];

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 20 s");
}

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Start `moto_server`, or `None` (skip) when it is not installed outside CI.
    pub fn start() -> Option<Moto> {
        if !crate::common::require_tool("moto_server") {
            return None;
        }
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server");
        wait_for_port(port, "moto_server");
        Some(Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the test created in the emulator.
#[derive(Debug, Clone)]
pub struct World {
    pub subnets: Vec<(String, String, String)>,
    pub instances: Vec<String>,
    pub allocation_id: String,
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn sdk_client(rt: &tokio::runtime::Runtime, endpoint: &str) -> hakit_cloud::sdk::Client {
    use hakit_cloud::sdk_config::BehaviorVersion;
    let creds =
        hakit_cloud::sdk::config::Credentials::new("emulator", "emulator", None, None, "test");
    let conf = rt.block_on(
        hakit_cloud::sdk_config::defaults(BehaviorVersion::latest())
            .region(hakit_cloud::sdk_config::Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(creds)
            .timeout_config(
                hakit_cloud::sdk_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(std::time::Duration::from_secs(15))
                    .build(),
            )
            .load(),
    );
    hakit_cloud::sdk::Client::new(&conf)
}

/// A VPC with subnets in two AZs, one instance in each, and an Elastic IP (allocated here by
/// the test: hakit never allocates one).
pub fn prepare(endpoint: &str) -> World {
    let rt = runtime();
    let ec2 = sdk_client(&rt, endpoint);
    rt.block_on(async {
        let vpc = ec2
            .create_vpc()
            .cidr_block("192.0.2.0/24")
            .send()
            .await
            .expect("vpc");
        let vpc = vpc
            .vpc()
            .and_then(|v| v.vpc_id())
            .expect("vpc id")
            .to_string();
        let image = ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .expect("images");
        let image = image
            .images()
            .first()
            .and_then(|i| i.image_id())
            .expect("an AMI")
            .to_string();
        let mut subnets = Vec::new();
        let mut instances = Vec::new();
        for (cidr, az) in SUBNETS {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(az)
                .send()
                .await
                .expect("subnet");
            let subnet = s
                .subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_string();
            let r = ec2
                .run_instances()
                .image_id(&image)
                .min_count(1)
                .max_count(1)
                .subnet_id(&subnet)
                .send()
                .await
                .expect("instance");
            instances.push(
                r.instances()
                    .first()
                    .and_then(|i| i.instance_id())
                    .expect("instance id")
                    .to_string(),
            );
            subnets.push((subnet, cidr.to_string(), az.to_string()));
        }
        let eip = ec2
            .allocate_address()
            .domain(hakit_cloud::sdk::types::DomainType::Vpc)
            .send()
            .await
            .expect("eip");
        World {
            subnets,
            instances,
            allocation_id: eip.allocation_id().expect("allocation").to_string(),
        }
    })
}

/// Whether the allocation still exists and which ENI holds it.
pub fn eip_state(endpoint: &str, allocation_id: &str) -> (bool, Option<String>) {
    let rt = runtime();
    let ec2 = sdk_client(&rt, endpoint);
    match rt.block_on(
        ec2.describe_addresses()
            .allocation_ids(allocation_id)
            .send(),
    ) {
        Ok(out) => (
            true,
            out.addresses()
                .first()
                .and_then(|a| a.network_interface_id())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        ),
        Err(_) => (false, None),
    }
}

/// One node's identity as IMDS serves it.
#[derive(Debug, Clone)]
pub struct Identity {
    pub instance_id: String,
    pub az: String,
    pub mac: String,
    pub subnet_id: String,
    pub subnet_cidr: String,
    pub vpc_id: String,
    pub private_ip: String,
}

/// A stoppable accept loop on 127.0.0.1, one thread per connection.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: Arc<dyn Fn(TcpStream) + Send + Sync>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let h = handler.clone();
                        let _ = stream.set_nonblocking(false);
                        std::thread::spawn(move || h(stream));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Server {
            port,
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct Request {
    head: String,
    body: Vec<u8>,
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { head, body })
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

pub struct ImdsServer {
    server: Server,
    pub token_puts: Arc<AtomicU32>,
    generation: Arc<AtomicU32>,
}

impl ImdsServer {
    pub fn start(identity: Identity) -> ImdsServer {
        let token_puts = Arc::new(AtomicU32::new(0));
        let generation = Arc::new(AtomicU32::new(1));
        let (puts, gen) = (token_puts.clone(), generation.clone());
        let handler = Arc::new(move |mut stream: TcpStream| {
            let Some(req) = read_request(&mut stream) else {
                return;
            };
            let first = req.head.lines().next().unwrap_or_default().to_string();
            let header = |name: &str| {
                req.head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
            };
            let valid = format!("token-{}", gen.load(Ordering::SeqCst));
            if first.starts_with("PUT /latest/api/token") {
                if header("X-aws-ec2-metadata-token-ttl-seconds").is_none() {
                    return respond(&mut stream, "400 Bad Request", "missing ttl");
                }
                puts.fetch_add(1, Ordering::SeqCst);
                return respond(&mut stream, "200 OK", &valid);
            }
            if header("X-aws-ec2-metadata-token").as_deref() != Some(valid.as_str()) {
                return respond(&mut stream, "401 Unauthorized", "");
            }
            let path = first.split_whitespace().nth(1).unwrap_or_default();
            let md = "/latest/meta-data";
            let iface = format!("{md}/network/interfaces/macs/{}", identity.mac);
            let value = match path {
                p if p == format!("{md}/instance-id") => Some(identity.instance_id.clone()),
                p if p == format!("{md}/placement/availability-zone") => Some(identity.az.clone()),
                p if p == format!("{md}/placement/region") => Some(REGION.to_string()),
                p if p == format!("{md}/mac") => Some(identity.mac.clone()),
                p if p == format!("{md}/local-ipv4") => Some(identity.private_ip.clone()),
                p if p == format!("{iface}/subnet-id") => Some(identity.subnet_id.clone()),
                p if p == format!("{iface}/subnet-ipv4-cidr-block") => {
                    Some(identity.subnet_cidr.clone())
                }
                p if p == format!("{iface}/vpc-id") => Some(identity.vpc_id.clone()),
                p if p == format!("{iface}/security-group-ids") => Some(String::new()),
                _ => None,
            };
            match value {
                Some(v) => respond(&mut stream, "200 OK", &v),
                None => respond(&mut stream, "404 Not Found", ""),
            }
        });
        ImdsServer {
            server: Server::start(handler),
            token_puts,
            generation,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// Invalidate every token handed out so far (clients get 401 until they renew).
    pub fn rotate_tokens(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    Throttle,
    Unavailable,
}

/// An HTTP proxy to moto that answers the next queued requests with injected faults.
pub struct FaultProxy {
    server: Server,
    pub faults: Arc<Mutex<VecDeque<Fault>>>,
    pub requests: Arc<AtomicU32>,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream_port: u16 = upstream
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("upstream port");
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let requests = Arc::new(AtomicU32::new(0));
        let (queue, count) = (faults.clone(), requests.clone());
        let handler = Arc::new(move |mut stream: TcpStream| {
            let Some(req) = read_request(&mut stream) else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let fault = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
            match fault {
                Some(Fault::Throttle) => respond(
                    &mut stream,
                    "503 Service Unavailable",
                    "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>",
                ),
                Some(Fault::Unavailable) => respond(
                    &mut stream,
                    "500 Internal Server Error",
                    "<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred.</Message></Error></Errors><RequestID>x</RequestID></Response>",
                ),
                None => {
                    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                        return respond(&mut stream, "502 Bad Gateway", "");
                    };
                    let head: String = req
                        .head
                        .lines()
                        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                        .map(|l| format!("{l}\r\n"))
                        .collect();
                    let _ = up.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes());
                    let _ = up.write_all(&req.body);
                    let _ = up.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut raw = Vec::new();
                    let _ = up.read_to_end(&mut raw);
                    let _ = stream.write_all(&raw);
                }
            }
        });
        FaultProxy {
            server: Server::start(handler),
            faults,
            requests,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    pub fn inject(&self, fault: Fault, times: usize) {
        let mut q = self.faults.lock().expect("lock");
        for _ in 0..times {
            q.push_back(fault);
        }
    }
}
