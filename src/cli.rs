//! The command line (ARCHITECTURE.md §6). Flags override the config file.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "ferrovs", version = concat!(env!("CARGO_PKG_VERSION"), " (built with DPDK ", env!("FERROVS_DPDK_BUILD_VERSION"), ")"), about = "An OpenFlow software switch on a DPDK poll-mode datapath")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the switch: EAL, ports, PMD lcores; runs until SIGINT/SIGTERM, and re-reads
    /// --config on SIGHUP.
    Run(Box<RunArgs>),
    /// Validate a configuration file and report every error with its line.
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
    },
    /// Send one command to a running switch's control socket, like `ovs-appctl -t`; prints
    /// the result (exit 0) or the switch's error (exit 2). For hosts and containers without
    /// `ovs-appctl`; the container's HEALTHCHECK uses it.
    Appctl {
        /// The control socket.
        #[arg(
            short = 't',
            long = "target",
            value_name = "PATH",
            default_value = "/run/ferrovs/ferrovs.ctl"
        )]
        target: PathBuf,
        /// Seconds to wait for the answer.
        #[arg(long, value_name = "SECS", default_value_t = 5)]
        timeout: u64,
        /// The command, e.g. version or list-commands.
        command: String,
        /// The command's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Args, Default, Clone)]
pub struct RunArgs {
    /// TOML configuration file; flags given here override it. SIGHUP re-reads it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The bridge's name, as `ovs-ofctl show NAME` and `ofproto/trace NAME` use it
    /// [default: br0].
    #[arg(long, value_name = "NAME")]
    pub bridge: Option<String>,
    /// A port, NAME=DEVARGS (repeatable). Ports are numbered 1, 2, … in the
    /// order given. DEVARGS is a DPDK virtual device (net_ring0,
    /// net_pcap0,rx_pcap=IN.pcap, net_null0, net_tap0,iface=t0,
    /// net_af_packet0,iface=veth0, …) or a PCI address (0000:01:00.0).
    #[arg(long = "port", value_name = "NAME=DEVARGS")]
    pub ports: Vec<String>,
    /// Cores for PMD lcores, e.g. 1 or 1-3 or 1,3. The control lcore runs on
    /// the lowest core not in this list.
    #[arg(long, value_name = "LIST")]
    pub pmd_cores: Option<String>,
    /// The core of the control lcore; it must not be a PMD core [default: the lowest core
    /// not in --pmd-cores].
    #[arg(long, value_name = "CORE")]
    pub control_core: Option<u32>,
    /// Pin rx queue QUEUE of port PORT to the PMD on core CORE (repeatable), e.g. p0:0:2.
    /// Queues not pinned are spread over the PMDs in turn.
    #[arg(long = "rxq", value_name = "PORT:QUEUE:CORE")]
    pub rxqs: Vec<String>,
    /// Forward everything received on port A to port B (repeatable), e.g.
    /// p0:p1: installs the datapath flow `in_port(A), actions:B`. Use A:B
    /// and B:A for both directions.
    #[arg(long = "patch", value_name = "A:B")]
    pub patches: Vec<String>,
    /// Datapath flows to install at start, one per line in dpctl syntax
    /// (`in_port(1),eth_type(0x0800), actions:2`); `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// The control socket for `ovs-appctl -t PATH …` [default:
    /// /run/ferrovs/ferrovs.ctl].
    #[arg(long, value_name = "PATH")]
    pub ctl: Option<PathBuf>,
    /// Number of mbufs in the packet pool.
    #[arg(long, value_name = "N")]
    pub mbufs: Option<u32>,
    /// Extra EAL arguments, e.g. "--log-level=debug".
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub eal: Option<String>,
    /// Print no live status line.
    #[arg(long)]
    pub quiet: bool,
    /// An OpenFlow service listener (repeatable): `ptcp:[PORT][:IP]`,
    /// `pssl:[PORT][:IP]` or `punix:PATH`. TCP listeners bind 127.0.0.1 unless
    /// an address is given. A punix listener for `ovs-ofctl` is always
    /// opened beside the control socket (`BRIDGE.mgmt`, e.g. `br0.mgmt`).
    #[arg(long = "listen", value_name = "TARGET")]
    pub listen: Vec<String>,
    /// An OpenFlow controller to connect to (repeatable): `tcp:IP[:PORT]` or
    /// `ssl:IP[:PORT]`; the port defaults to 6653.
    #[arg(long = "controller", value_name = "TARGET")]
    pub controllers: Vec<String>,
    /// What to do without a controller: secure (keep the flows, drop
    /// misses) or standalone (after 3 probe intervals, act as a learning
    /// switch). Default: secure.
    #[arg(long, value_name = "MODE")]
    pub fail_mode: Option<String>,
    /// The datapath id, in hex (default: from the bridge's MAC).
    #[arg(long, value_name = "HEX")]
    pub datapath_id: Option<String>,
    /// Where to serve Prometheus metrics on HTTP /metrics: IP:PORT, or
    /// off [default: 127.0.0.1:9477].
    #[arg(long, value_name = "ADDR|off")]
    pub metrics: Option<String>,
    /// Log levels: LEVEL (off, err, warn, info, dbg) for every module, or
    /// specs as `ovs-appctl vlog/set` takes them, comma-separated, e.g.
    /// `info,connmgr:dbg,file:warn`.
    #[arg(long, value_name = "SPEC")]
    pub log_level: Option<String>,
    /// Also write the log to FILE (appended; `ovs-appctl vlog/reopen`
    /// reopens it after a rotation).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// TLS private key (PEM) for ssl: and pssl:.
    #[arg(long, value_name = "FILE")]
    pub ssl_private_key: Option<PathBuf>,
    /// TLS certificate (PEM) for ssl: and pssl:.
    #[arg(long, value_name = "FILE")]
    pub ssl_certificate: Option<PathBuf>,
    /// CA certificate (PEM) that peers must be signed by.
    #[arg(long, value_name = "FILE")]
    pub ssl_ca_cert: Option<PathBuf>,
    /// Datapath flows (megaflows) each PMD may hold [default: 200000].
    #[arg(long, value_name = "N")]
    pub flow_limit: Option<u64>,
}
