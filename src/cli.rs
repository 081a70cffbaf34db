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
    /// Start the switch: EAL, ports, PMD lcores; runs until SIGINT/SIGTERM.
    Run(RunArgs),
    /// Validate a configuration file and report every error with its line.
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
    },
}

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// TOML configuration file; flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    /// Forward everything received on port A to port B (repeatable), e.g.
    /// p0:p1. Use A:B and B:A for both directions.
    #[arg(long = "patch", value_name = "A:B")]
    pub patches: Vec<String>,
    /// Number of mbufs in the packet pool.
    #[arg(long, value_name = "N")]
    pub mbufs: Option<u32>,
    /// Extra EAL arguments, e.g. "--log-level=debug".
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub eal: Option<String>,
    /// Print no live status line.
    #[arg(long)]
    pub quiet: bool,
}
