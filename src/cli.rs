//! Command-line definitions only (clap derive): no logic lives here.

use crate::role::Role;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "hakit",
    version,
    about = "Active/standby database-proxy pairs behind one address (AWS Elastic IP or L2 VIP), with keepalived",
    long_about = None,
    help_expected = true,
    after_help = "Exit codes: 0 ok, 1 failure (or a confirmation answered no), 2 usage or config error, 3 partially applied (run `hakit rollback`), 4 degraded (`hakit status`)."
)]
pub struct Cli {
    /// Print only errors (no per-step lines)
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print the steps that changed nothing
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
    /// Answer yes to every confirmation (rollback, replacing a config hakit did not write)
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Never prompt; a missing value is an error (also when CI=true or not on a terminal)
    #[arg(long, global = true)]
    pub non_interactive: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a cluster file and a root-only secrets file (wizard on a terminal, flags otherwise)
    Init(InitArgs),
    /// Show the ordered steps `setup` would take on this node, without changing anything
    Plan(PlanArgs),
    /// Write every file this node would get (keepalived.conf, scripts, proxy config) under a directory
    Render(RenderArgs),
    /// Apply the plan on this node: packages, ENI and Elastic IP, files, services
    Setup(SetupArgs),
    /// Undo what setup did on this node, restoring what was there before (never releases the Elastic IP)
    Rollback(RollbackArgs),
    /// Show this node's VRRP state, who holds the address, and proxy health
    Status(StatusArgs),
    /// Called by keepalived on a VRRP transition: move the Elastic IP (aws-eip), report and log it
    Notify(NotifyArgs),
    /// The instance role each node needs: print its policy, create it, or remove it
    #[command(subcommand)]
    Iam(IamCommand),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout, or write every page into a directory
    Man(ManArgs),
}

#[derive(Debug, Subcommand)]
pub enum IamCommand {
    /// Print the least-privilege policy (JSON) for this cluster's instance role
    Policy(ConfigArgs),
    /// Create the role, its inline policy and the instance profile; journaled, idempotent
    Apply(IamArgs),
    /// Undo what `iam apply` recorded, newest first; never touches entities hakit did not tag
    Rollback(IamArgs),
}

#[derive(Debug, Args)]
#[command(mut_arg("output", |a| a.help("Output format of the report")))]
pub struct IamArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Directory of the IAM journal (iam-journal.json) [default: paths.state_dir of the cluster file]
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable text
    Text,
    /// One JSON document on stdout
    Json,
}

/// `--config`, the cluster file (flattened into each command that reads it).
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Cluster file
    #[arg(
        id = "config",
        long = "config",
        value_name = "CONFIG",
        short = 'c',
        env = "HAKIT_CONFIG",
        default_value = "/etc/hakit/cluster.toml"
    )]
    pub path: PathBuf,
}

/// `--output`, text or JSON (flattened into each command that reports).
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format
    #[arg(
        id = "output",
        long = "output",
        value_name = "OUTPUT",
        short = 'o',
        value_enum,
        default_value = "text",
        env = "HAKIT_OUTPUT"
    )]
    pub format: Output,
}

#[derive(Debug, Args)]
#[command(mut_arg("config", |a| a.help("Cluster file (the same on every node)")))]
pub struct NodeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// This node's role: master is the first node of the cluster file
    #[arg(long, short = 'r', env = "HAKIT_ROLE", value_enum)]
    pub role: Role,
    /// This node's name (needed for a backup when there are several)
    #[arg(long, short = 'n', env = "HAKIT_NODE")]
    pub node: Option<String>,
    /// Secrets file [default: secrets.toml in paths.config_dir]
    #[arg(long, env = "HAKIT_SECRETS")]
    pub secrets: Option<PathBuf>,
    /// Directory of templates overriding the embedded ones, file by file
    #[arg(long, env = "HAKIT_TEMPLATES")]
    pub templates: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(mut_arg("output", |a| a.help("Output format of the step report")))]
pub struct SetupArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Write and validate everything but enable and start no service (also where systemd is not running)
    #[arg(long)]
    pub no_start: bool,
    /// Apply only the host part, leaving out the AWS steps (ENI, Elastic IP)
    #[arg(long)]
    pub skip_cloud: bool,
    /// If a step fails, roll back what this setup did (for CI)
    #[arg(long)]
    pub rollback_on_error: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("config", |a| a.help("Cluster file (its paths.state_dir holds the journal)")))]
#[command(mut_arg("output", |a| a.help("Output format of the report")))]
pub struct RollbackArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also restore files changed by someone after hakit wrote them
    #[arg(long)]
    pub force: bool,
    /// The journal is lost: find hakit's files by their header and its ENI by its tags
    #[arg(long)]
    pub discover: bool,
    /// This node's name, for --discover [default: the node whose address is on this host]
    #[arg(long, short = 'n', env = "HAKIT_NODE", requires = "discover")]
    pub node: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Also ask EC2 (DryRun) whether this identity may call every action setup and notify need
    #[arg(long)]
    pub preflight: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("output", |a| a.help("Output format of the list of written files")))]
pub struct RenderArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Directory to write the files under, each at its real path below it
    #[arg(long)]
    pub out: PathBuf,
    /// Also check each file with its real validator (keepalived -t, haproxy -c); needs root
    #[arg(long)]
    pub validate: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// This node's name [default: the node whose address is on this host]
    #[arg(long, short = 'n', env = "HAKIT_NODE")]
    pub node: Option<String>,
    /// Only log in to the local ProxySQL's client port as the monitor user (the secrets
    /// file's password): exit 0 when the login completes within 1 s, 4 otherwise.
    /// keepalived's check for the proxysql profile; needs root
    #[arg(long)]
    pub login_check: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transition {
    Master,
    Backup,
    Fault,
    Stop,
}

#[derive(Debug, Args)]
#[command(mut_arg("output", |a| a.help("Output the outcome as JSON on stdout")))]
pub struct NotifyArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// This node's name
    #[arg(long, short = 'n', env = "HAKIT_NODE")]
    pub node: Option<String>,
    /// The state keepalived entered
    #[arg(value_enum, required_unless_present = "reconcile")]
    pub state: Option<Transition>,
    /// Periodic check: if this node is VRRP master but the Elastic IP is elsewhere, take it back
    #[arg(long, conflicts_with = "state")]
    pub reconcile: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write hakit.1 and one page per subcommand (hakit-setup.1, hakit-iam-apply.1, ...)
    /// into DIR instead of printing hakit.1
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to print completions for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Cluster name (lowercase letters, digits, '-')
    #[arg(long)]
    pub cluster: Option<String>,
    /// How the address moves
    #[arg(long, value_parser = ["aws-eip", "l2-vip"])]
    pub mode: Option<String>,
    /// Profile: haproxy, proxysql, mariadb-galera, or a profile file
    #[arg(long)]
    pub profile: Option<String>,
    /// A node as NAME=PRIVATE_IP (preferred master first); repeat for each node
    #[arg(long = "node", value_name = "NAME=IP")]
    pub nodes: Vec<String>,
    /// A database behind the proxy as HOST:PORT; repeat for each
    #[arg(long = "backend", value_name = "HOST:PORT")]
    pub backends: Vec<String>,
    /// Elastic IP allocation id (aws-eip mode)
    #[arg(long)]
    pub eip_allocation_id: Option<String>,
    /// AWS region (aws-eip mode) [default: the instance's, from IMDS, at run time]
    #[arg(long)]
    pub region: Option<String>,
    /// Security group for the dedicated ENIs (aws-eip mode); repeat for each
    #[arg(long = "security-group-id", value_name = "SG_ID")]
    pub security_group_ids: Vec<String>,
    /// Virtual IP with prefix, e.g. 192.0.2.100/24 (l2-vip mode)
    #[arg(long)]
    pub vip: Option<String>,
    /// Interface for VRRP (and the VIP in l2-vip mode)
    #[arg(long)]
    pub interface: Option<String>,
    /// VRRP virtual router id, 1-255 [default: derived from the cluster name]
    #[arg(long)]
    pub virtual_router_id: Option<u8>,
    /// Where to write the cluster file
    #[arg(long, default_value = "hakit.toml")]
    pub out: PathBuf,
    /// Where to write the secrets file (mode 0600) [default: <out stem>.secrets.toml beside --out]
    #[arg(long)]
    pub secrets_out: Option<PathBuf>,
    /// Replace an existing cluster file (an existing secrets file is always kept)
    #[arg(long)]
    pub force: bool,
}
